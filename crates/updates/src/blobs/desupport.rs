//! Schema 50: tells clients their OS is no longer supported.

use serde_json::{Map, Value};

use super::value::{py_str_opt, required_name};
use super::UpdateParts;
use crate::error::{Result, UpdatesError};
use crate::request::UpdateQuery;

#[derive(Debug, Clone)]
pub struct DesupportBlob {
    name: String,
    data: Map<String, Value>,
}

impl DesupportBlob {
    pub fn new(data: Map<String, Value>) -> Result<DesupportBlob> {
        let name = required_name(&data)?;
        if !data.get("detailsUrl").is_some_and(Value::is_string) {
            return Err(UpdatesError::InvalidBlob(
                "'detailsUrl' is a required property".into(),
            ));
        }
        Ok(DesupportBlob { name, data })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Balrog renders an empty inner header (an empty line in the document)
    /// and closes the element without indentation.
    pub fn render(&self, q: &UpdateQuery, update_type: &str) -> UpdateParts {
        let os = q.build_target.split('_').next().unwrap_or("");
        let url = self
            .data
            .get("detailsUrl")
            .and_then(Value::as_str)
            .unwrap_or("");
        let url = url
            .replace("%LOCALE%", &q.locale)
            .replace("%VERSION%", &q.version)
            .replace("%OS%", os);
        let url = url
            .replace("%locale%", &q.locale)
            .replace("%version%", &q.version)
            .replace("%os%", os);
        let display = py_str_opt(self.data.get("displayVersion"));
        UpdateParts {
            header: String::new(),
            body: vec![format!(
                r#"    <update type="{update_type}" unsupported="true" detailsURL="{url}" displayVersion="{display}">"#
            )],
            footer: "</update>".into(),
        }
    }
}
