//! Model backends. Each model lives in its own folder, one file per
//! component.

pub mod piper;
