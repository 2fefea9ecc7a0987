//! Serde types for the FHIR R4 resources the client reads and writes. Every struct keeps the
//! elements it does not model in `extra`, so a resource read from the EHR and written back
//! loses nothing; numbers are `serde_json::Number` so decimals keep their exact text (the
//! workspace enables `arbitrary_precision`, which also cannot feed plain integers through
//! `#[serde(flatten)]`).

mod datatypes;
mod resources;
mod workflow;

pub use datatypes::*;
pub use resources::*;
pub use workflow::*;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A FHIR resource type we model.
pub trait Resource: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The `resourceType` (e.g. "Patient").
    const TYPE: &'static str;
    fn id(&self) -> Option<&str>;
    fn meta(&self) -> Option<&Meta>;
    /// `meta.versionId`, used for `If-Match`.
    fn version_id(&self) -> Option<&str> {
        self.meta().and_then(|m| m.version_id.as_deref())
    }
}

/// Lets the struct macros skip absent options and empty lists (FHIR forbids empty arrays).
pub trait EmptyField {
    fn is_empty_field(&self) -> bool;
}
impl<T> EmptyField for Option<T> {
    fn is_empty_field(&self) -> bool {
        self.is_none()
    }
}
impl<T> EmptyField for Vec<T> {
    fn is_empty_field(&self) -> bool {
        self.is_empty()
    }
}
pub(crate) fn is_empty_field<T: EmptyField>(v: &T) -> bool {
    v.is_empty_field()
}

/// A FHIR complex type / backbone element: listed fields are `opt T` (0..1) or `vec T` (0..*),
/// everything else lands in `extra`.
macro_rules! fhir_struct {
    ($(#[$doc:meta])* $name:ident { $( $(#[$fdoc:meta])* $field:ident : $kind:tt $ty:ty ),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $( $(#[$fdoc])*
            #[serde(default, skip_serializing_if = "crate::model::is_empty_field")]
            pub $field: fhir_struct!(@ty $kind $ty), )*
            /// Elements this struct does not model, kept verbatim.
            #[serde(flatten)]
            pub extra: serde_json::Map<String, serde_json::Value>,
        }
    };
    (@ty opt $ty:ty) => { Option<$ty> };
    (@ty vec $ty:ty) => { Vec<$ty> };
}

/// A FHIR resource: `resourceType`, `id`, `meta` plus the listed fields and `extra`.
macro_rules! fhir_resource {
    ($(#[$doc:meta])* $name:ident { $( $(#[$fdoc:meta])* $field:ident : $kind:tt $ty:ty ),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub resource_type: String,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub id: Option<String>,
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub meta: Option<crate::model::Meta>,
            $( $(#[$fdoc])*
            #[serde(default, skip_serializing_if = "crate::model::is_empty_field")]
            pub $field: fhir_struct!(@ty $kind $ty), )*
            /// Elements this struct does not model, kept verbatim.
            #[serde(flatten)]
            pub extra: serde_json::Map<String, serde_json::Value>,
        }
        impl Default for $name {
            fn default() -> Self {
                Self {
                    resource_type: stringify!($name).to_string(),
                    id: None,
                    meta: None,
                    $( $field: Default::default(), )*
                    extra: Default::default(),
                }
            }
        }
        impl crate::model::Resource for $name {
            const TYPE: &'static str = stringify!($name);
            fn id(&self) -> Option<&str> {
                self.id.as_deref()
            }
            fn meta(&self) -> Option<&crate::model::Meta> {
                self.meta.as_ref()
            }
        }
    };
}
pub(crate) use {fhir_resource, fhir_struct};

#[cfg(test)]
mod tests;
