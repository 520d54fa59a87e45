//! Every limit the engine itself checks, in one place (the domain's are in
//! `workflow::limits`, the log's in `store::limits`, the API's in `api::limits`).

/// Characters of a token's name at most (at least one).
pub const TOKEN_NAME_CHARS_MAX: usize = 200;

/// Times a command without an expected version is decided at most when other writers keep
/// appending to its rollout in between (each time on the state it then finds): sixteen writers
/// on one rollout at once all succeed.
pub const COMMAND_ATTEMPTS_MAX: u32 = 64;

/// Rollouts whose full state the engine keeps (the least recently used goes first). An entry
/// is a rollout with its steps and their records (about 30 steps for the bundled onboarding);
/// its size in memory is not measured yet (ARCHITECTURE.md, "What must fit in memory").
pub const ROLLOUT_CACHE_ENTRIES: usize = 10_000;

/// Rollouts a Land-level step is recorded in at once when it fans out (BENCHMARKS.md, "Command
/// cost and history": other clients' p99 while 193 rollouts are reached).
pub const FANOUT_BATCH: usize = 16;

/// Characters of each of a person's values (name, function, e-mail, phone) at most.
pub const PERSON_FIELD_CHARS_MAX: usize = 200;

/// Characters of the reason for a person's leaving or erasure at most (at least one).
pub const PERSON_REASON_CHARS_MAX: usize = 500;
