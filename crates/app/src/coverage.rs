//! The denominator every figure rests on: per group, the administrations responsible for a
//! service (the level rule and its exceptions, `catalog::Catalog::responsible`), what they
//! answered to its offer, how far their rollouts are, and coverage — in operation ÷
//! responsible, by administrations and by population. Central rollouts (the Land's, the
//! association's model) are no administration's and never counted here.
//!
//! Each responsible administration counts once per service: in exactly one of *interested*,
//! *declined*, *deferred*, *own solution* and *no answer* (its latest answer), and in at most one
//! of *onboarding* and *in operation* (its rollout's state).

use std::collections::{BTreeMap, HashMap};

use catalog::{AnswerKind, Catalog};
use projections::{GroupBy, ReadModel};
use workflow::Status;

/// The reuse figures of one group.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reuse {
    /// (service, administration) pairs where the administration is responsible.
    pub responsible: u64,
    /// … to which the service was offered.
    pub offered: u64,
    pub interested: u64,
    pub declined: u64,
    pub deferred: u64,
    pub own_solution: u64,
    pub no_answer: u64,
    /// … with a rollout under way (not in operation, not ended).
    pub onboarding: u64,
    /// … with its rollout in operation.
    pub in_operation: u64,
    /// The population the responsible administrations serve, and of those in operation.
    pub population_responsible: u64,
    pub population_in_operation: u64,
    /// … whose applications reach the back-office system digitally (Ende-zu-Ende).
    pub end_to_end: u64,
    /// Applications received online, every month recorded.
    pub applications: u64,
    /// Services of the group in operation at every responsible administration.
    pub services_flaechendeckend: u64,
    /// Services of the group with at least one responsible administration.
    pub services: u64,
}

impl Reuse {
    /// In operation ÷ responsible, in percent (0 without responsible administrations).
    pub fn coverage(&self) -> f64 {
        percent(self.in_operation, self.responsible)
    }

    /// The population served in operation ÷ the population served by the responsible, in
    /// percent.
    pub fn population_coverage(&self) -> f64 {
        percent(self.population_in_operation, self.population_responsible)
    }

    /// Every responsible administration of the group in operation (the Dashboard Digitale
    /// Verwaltung's "flächendeckend": 99 % is not).
    pub fn flaechendeckend(&self) -> bool {
        self.responsible > 0 && self.in_operation == self.responsible
    }

    /// Whether anything happened in the group: an offer, an answer or a rollout. Groups that
    /// are only responsible are left out of the lists (as groups without rollouts are).
    pub fn is_active(&self) -> bool {
        self.offered
            + self.interested
            + self.declined
            + self.deferred
            + self.own_solution
            + self.onboarding
            + self.in_operation
            > 0
    }

    pub fn add(&mut self, o: &Reuse) {
        self.responsible += o.responsible;
        self.offered += o.offered;
        self.interested += o.interested;
        self.declined += o.declined;
        self.deferred += o.deferred;
        self.own_solution += o.own_solution;
        self.no_answer += o.no_answer;
        self.onboarding += o.onboarding;
        self.in_operation += o.in_operation;
        self.population_responsible += o.population_responsible;
        self.population_in_operation += o.population_in_operation;
        self.end_to_end += o.end_to_end;
        self.applications += o.applications;
        self.services_flaechendeckend += o.services_flaechendeckend;
        self.services += o.services;
    }
}

/// `part` ÷ `whole` in percent, one decimal.
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (1000.0 * part as f64 / whole as f64).round() / 10.0
    }
}

/// The step of the bundled onboarding definitions that connects the back-office system
/// (Fachverfahren): done, the applications reach it digitally unless someone said otherwise.
pub const BACK_OFFICE_STEP: &str = "fachverfahren";

/// Whether a rollout's applications reach the back-office system digitally (Ende-zu-Ende): as
/// set explicitly (`EndToEndSet`), else yes once its back-office step is done, else unknown.
pub fn end_to_end(explicit: Option<bool>, rollout: Option<&workflow::Rollout>) -> Option<bool> {
    explicit.or_else(|| {
        let r = rollout?;
        let i = r.definition.step_index(BACK_OFFICE_STEP)?;
        (r.steps.get(i)?.status == workflow::StepStatus::Done).then_some(true)
    })
}

/// The group an administration counts in.
fn group_of<'a>(catalog: &'a Catalog, by: GroupBy, service: &'a str, ars: &'a str) -> &'a str {
    match by {
        GroupBy::Service => service,
        GroupBy::Authority => ars,
        GroupBy::Landkreis => {
            catalog.authorities.get(ars).and_then(|e| e.authority.landkreis_ars.as_deref()).unwrap_or(ars)
        }
    }
}

/// The reuse figures of the model grouped `by`, of the services `keep` accepts that are in the
/// programme: offered or started (a service neither offered nor started is not being rolled
/// out, and its responsible administrations would only dilute a Landkreis's coverage).
pub fn reuse(m: &ReadModel, by: GroupBy, keep: impl Fn(&str) -> bool) -> BTreeMap<String, Reuse> {
    let catalog = &m.catalog;
    let mut out: BTreeMap<String, Reuse> = BTreeMap::new();
    for (key, entry) in catalog.services.iter().filter(|(k, _)| keep(k)) {
        let rollouts: HashMap<&str, &workflow::Rollout> =
            m.rollouts_of_service(key).map(|r| (r.ars.as_str(), &**r)).collect();
        if entry.offers.is_empty() && rollouts.is_empty() {
            continue;
        }
        // Per service first: whether it is flächendeckend is a fact of the whole service.
        let mut per_group: BTreeMap<&str, Reuse> = BTreeMap::new();
        for a in catalog.responsible(key) {
            let r = per_group.entry(group_of(catalog, by, key, &a.ars)).or_default();
            let served = catalog.population_served(key, &a.ars);
            r.responsible += 1;
            r.population_responsible += served;
            let offered = entry.offers.iter().any(|o| o.is_to(&a.ars));
            r.offered += u64::from(offered);
            let authority = &catalog.authorities[&a.ars];
            match authority.answers.get(key).map(|x| x.answer) {
                Some(AnswerKind::Interested) => r.interested += 1,
                Some(AnswerKind::Declined) => r.declined += 1,
                Some(AnswerKind::Deferred) => r.deferred += 1,
                Some(AnswerKind::OwnSolution) => r.own_solution += 1,
                None => r.no_answer += 1,
            }
            let rollout = rollouts.get(a.ars.as_str()).copied();
            match rollout.map(|x| x.status()) {
                Some(Status::Live) => {
                    r.in_operation += 1;
                    r.population_in_operation += served;
                }
                Some(Status::Cancelled) | None => {}
                Some(_) => r.onboarding += 1,
            }
            let digital = end_to_end(authority.end_to_end.get(key).copied(), rollout);
            r.end_to_end += u64::from(digital == Some(true));
            r.applications += authority.applications(key);
        }
        let whole = per_group.values().fold(Reuse::default(), |mut sum, r| {
            sum.add(r);
            sum
        });
        for (group, mut r) in per_group {
            if by == GroupBy::Service {
                r.services = 1;
                r.services_flaechendeckend = u64::from(whole.flaechendeckend());
            }
            out.entry(group.to_owned()).or_default().add(&r);
        }
    }
    out
}

/// Whether service `key` is in a target's scope (`service:<key>`, `programme:<name>`, `gesamt`).
pub fn in_scope(catalog: &Catalog, scope: &str, key: &str) -> bool {
    match scope.split_once(':') {
        Some(("service", s)) => key == s,
        Some(("programme", name)) => catalog.program_of(key).name() == name,
        _ => true,
    }
}

/// The reuse figures of a target's scope in model `m`.
pub fn of_scope(m: &ReadModel, scope: &str) -> Reuse {
    let mut sum = Reuse::default();
    for r in reuse(m, GroupBy::Service, |key| in_scope(&m.catalog, scope, key)).values() {
        sum.add(r);
    }
    sum
}

/// A target against where things stand: (actual in operation, actual coverage, the gap in
/// administrations or percentage points; 0 when reached).
pub fn against(target: &catalog::Target, actual: &Reuse) -> f64 {
    let gap = match target.measure {
        catalog::Measure::InOperation(n) => n.saturating_sub(actual.in_operation) as f64,
        catalog::Measure::Coverage(p) => (p - actual.coverage()).max(0.0),
    };
    (gap * 10.0).round() / 10.0
}
