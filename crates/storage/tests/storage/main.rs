//! The storage layers against real MySQL and Redis: the projector folds exactly once whatever
//! happens to it, and the live state follows the summaries.

mod helpers;
mod live;
mod projector;
