//! Every limit the engine itself checks, in one place (the domain's are in
//! `workflow::limits`, the log's in `store::limits`, the API's in `api::limits`).

/// Characters of a token's name at most (at least one).
pub const TOKEN_NAME_CHARS_MAX: usize = 200;
