//! Who is responsible for a service: the level rule (`model::applies`) and its exceptions (the
//! statuses and the responsibility file, read by `responsibility_file.rs`; changes decided as
//! `ResponsibilityChanged`), combined by [`Catalog::is_responsible`].

use std::collections::BTreeSet;

use crate::events::{AuthorityEntry, Catalog, ServiceEntry};
use crate::model::{applies, Authority, AuthorityKind};

impl Catalog {
    /// Whether `ars` is responsible for `service`: its exception if it has one; otherwise the
    /// level rule, unless another administration carries its task by agreement. The central
    /// parties (the Land, the association) are never counted as responsible administrations.
    pub fn is_responsible(&self, service: &str, ars: &str) -> bool {
        let (Some(s), Some(a)) = (self.services.get(service), self.authorities.get(ars)) else {
            return false;
        };
        responsible_entry(s, a, |ars| {
            s.exceptions.values().any(|x| x.responsible && x.for_ars.iter().any(|f| f == ars))
        })
    }

    /// The administrations responsible for `service`, by ARS (ordered). One pass over the
    /// administrations (the exceptions looked at once).
    pub fn responsible(&self, service: &str) -> Vec<&Authority> {
        let Some(s) = self.services.get(service) else { return Vec::new() };
        let carried: BTreeSet<&str> = s
            .exceptions
            .values()
            .filter(|x| x.responsible)
            .flat_map(|x| x.for_ars.iter().map(String::as_str))
            .collect();
        self.authorities
            .values()
            .filter(|a| responsible_entry(s, a, |ars| carried.contains(ars)))
            .map(|a| &a.authority)
            .collect()
    }

    /// The population an administration serves for `service`: its own, less the
    /// administrations of its area responsible themselves (a Landkreis without its Mittlere
    /// kreisangehörige Stadt), plus the administrations whose task it carries by agreement.
    /// Summed over the responsible administrations it counts every inhabitant once.
    pub fn population_served(&self, service: &str, ars: &str) -> u64 {
        let Some(a) = self.authorities.get(ars).map(|e| &e.authority) else { return 0 };
        let Some(s) = self.services.get(service) else { return 0 };
        let mut population = a.population;
        if a.kind == AuthorityKind::Landkreis {
            for (other, x) in &s.exceptions {
                let inside = self
                    .authorities
                    .get(other)
                    .is_some_and(|o| o.authority.landkreis_ars.as_deref() == Some(ars));
                if inside && x.responsible {
                    population = population.saturating_sub(self.own_population(other));
                }
            }
        }
        if let Some(x) = s.exceptions.get(ars).filter(|x| x.responsible) {
            for other in &x.for_ars {
                population += self.own_population(other);
            }
        }
        population
    }

    fn own_population(&self, ars: &str) -> u64 {
        self.authorities.get(ars).map_or(0, |e| e.authority.population)
    }

    /// The municipalities an administration acts for in `service` besides its own members
    /// (their ARS), from its exception: what its editorial entry must list.
    pub fn acts_for(&self, service: &str, ars: &str) -> Vec<String> {
        self.services
            .get(service)
            .and_then(|s| s.exceptions.get(ars))
            .map(|x| x.for_ars.clone())
            .unwrap_or_default()
    }
}

/// The rule for one administration and one service: not dissolved, no central party; its
/// exception if it has one, else the level rule unless `carried` says another administration
/// carries its task by agreement.
fn responsible_entry(s: &ServiceEntry, a: &AuthorityEntry, carried: impl Fn(&str) -> bool) -> bool {
    if a.dissolved.is_some() || matches!(a.authority.kind, AuthorityKind::Land | AuthorityKind::Zweckverband)
    {
        return false;
    }
    match s.exceptions.get(&a.authority.ars) {
        Some(x) => x.responsible,
        None => applies(&s.service, &a.authority) && !carried(&a.authority.ars),
    }
}
