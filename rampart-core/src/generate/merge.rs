//! `--merge`: placeholder.
use super::*;
pub fn merge(_existing: &str, _origin: &str, _g: Generator) -> Result<Generated, GenerateError> {
    Err(GenerateError::Input("merge not implemented".into()))
}
