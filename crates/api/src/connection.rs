//! Relay connections: one shape for every list that pages (rollouts, events, administrations,
//! services), made by [`connection!`], each keeping its own descriptions; [`paginate`] cuts a
//! page from an ordered list.

use async_graphql::SimpleObject;

/// Paging information of a connection.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// More items follow.
    pub(crate) has_next_page: bool,
    /// The cursor of the last item of this page; pass it as `after` for the next page.
    pub(crate) end_cursor: Option<String>,
}

/// A connection type and its edge type: `connection!(Name, Edge, Node, "type doc", "edge doc",
/// "cursor doc", "node doc", total: "totalCount doc")` (without `total:` the connection has no
/// `totalCount`, for lists whose length is not known without reading them all).
macro_rules! connection {
    ($name:ident, $edge:ident, $node:ty, $doc:literal, $edge_doc:literal, $cursor_doc:literal, $node_doc:literal $(, total: $total_doc:literal)?) => {
        #[doc = $doc]
        #[derive(async_graphql::SimpleObject)]
        pub struct $name {
            $(
                #[doc = $total_doc]
                pub(crate) total_count: u64,
            )?
            /// This page.
            pub(crate) edges: Vec<$edge>,
            /// Paging.
            pub(crate) page_info: $crate::connection::PageInfo,
        }

        #[doc = $edge_doc]
        #[derive(async_graphql::SimpleObject)]
        pub struct $edge {
            #[doc = $cursor_doc]
            pub(crate) cursor: String,
            #[doc = $node_doc]
            pub(crate) node: $node,
        }
    };
}
pub(crate) use connection;

/// One page of `items` (ordered by `key`): the edges after cursor `after`, at most `first`,
/// the total count and the paging information.
pub(crate) fn paginate<T, E>(
    items: &[T],
    key: impl Fn(&T) -> String,
    after: Option<&str>,
    first: usize,
    edge: impl Fn(String, &T) -> E,
) -> (Vec<E>, u64, PageInfo) {
    let start = after.map_or(0, |a| items.partition_point(|x| key(x).as_str() <= a));
    let page = &items[start.min(items.len())..];
    let page = &page[..first.min(page.len())];
    let end_cursor = page.last().map(&key);
    let edges = page.iter().map(|x| edge(key(x), x)).collect();
    let has_next_page = start + page.len() < items.len();
    (edges, items.len() as u64, PageInfo { has_next_page, end_cursor })
}
