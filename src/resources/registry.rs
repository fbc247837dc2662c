//! The kind registry: one line per kind, `module::Type`, in `resources/mod.rs`, makes a kind
//! known everywhere.
//!
//! From those lines the [`registry!`] macro declares each kind's module, [`Kind`] (re-exported
//! as `addr::Kind`) with its list and names, each kind's `KindSchema`, and the dispatch of
//! list, create, update and delete to the kind's `KindOps`. `spec`, `graph`, `plan`,
//! `render` and refresh read kinds only through this.
//!
//! Adding a kind = its `resources/` module (a `KindOps` with its `SCHEMA`) + one registry
//! line + its service in `sim/` + its tests.

use super::Kind;

macro_rules! registry {
    ($($module:ident :: $variant:ident),* $(,)?) => {
        $(mod $module;)*

        use $crate::resources::schema::KindSchema as RegistrySchema;
        /// Every resource kind stackform manages, in the order a user reads them (which is
        /// also the order addresses sort in).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $($variant),*
        }

        const KIND_COUNT: usize = [$(stringify!($variant)),*].len();

        impl Kind {
            pub const ALL: [Kind; KIND_COUNT] = [$(Kind::$variant),*];

            /// Everything the kind declares about itself.
            pub fn schema(self) -> &'static RegistrySchema {
                match self {
                    $(Kind::$variant => &<$module::$variant as KindOps>::SCHEMA),*
                }
            }
        }

        /// Lists the kind's objects in `scope` (one paginated call per collection).
        pub(crate) async fn list_kind(
            kind: Kind,
            cx: &Context,
            scope: Scope<'_>,
        ) -> Result<Vec<Listed>> {
            match kind {
                $(Kind::$variant => <$module::$variant as KindOps>::list(cx, scope).await),*
            }
        }

        /// Creates the resource (tagged), waits until it is ready, returns its id.
        pub async fn create(cx: &Context, res: &spec::DesiredResource, ids: &Ids) -> Result<String> {
            match res.addr.kind {
                $(Kind::$variant => <$module::$variant as KindOps>::create(cx, res, ids).await),*
            }
        }

        /// Changes only the attributes that differ between `res` and `current`.
        pub async fn update(
            cx: &Context,
            res: &spec::DesiredResource,
            current: &ObservedResource,
            ids: &Ids,
        ) -> Result<()> {
            match res.addr.kind {
                $(Kind::$variant => <$module::$variant as KindOps>::update(cx, res, current, ids).await),*
            }
        }

        /// Deletes the resource; already gone is success.
        pub async fn delete(cx: &Context, current: &ObservedResource, ids: &Ids) -> Result<()> {
            match current.addr.kind {
                $(Kind::$variant => <$module::$variant as KindOps>::delete(cx, current, ids).await),*
            }
        }
    };
}

impl Kind {
    /// The TOML table name and the address prefix.
    pub fn as_str(self) -> &'static str {
        self.schema().name
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::resources::schema::{AttrType, ListScope, tenant_kind};

    #[test]
    fn names_are_unique_and_parse_back() {
        let names: BTreeSet<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), Kind::ALL.len());
        for kind in Kind::ALL {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
    }

    /// The schema is read by name everywhere: a typo in one kind's declaration would make a
    /// reference, a parent or a derived attribute silently point at nothing.
    #[test]
    fn every_declaration_points_at_something_declared() {
        for kind in Kind::ALL {
            let schema = kind.schema();
            let names: BTreeSet<&str> = schema.attrs.iter().map(|a| a.name).collect();
            assert_eq!(
                names.len(),
                schema.attrs.len(),
                "{kind}: duplicate attribute"
            );
            if let Some(parent) = schema.parent {
                let attr = schema.attribute(parent);
                assert!(
                    attr.and_then(|a| a.reference()).is_some(),
                    "{kind}: parent `{parent}` is not a reference"
                );
            }
            for (attr, _) in schema.replace_in_status {
                assert!(names.contains(attr), "{kind}: replace_in_status `{attr}`");
            }
            for attr in schema.shown {
                assert!(names.contains(attr), "{kind}: shown `{attr}`");
            }
            for attr in schema.attrs {
                match attr.ty {
                    AttrType::Cidr { version_attr, .. } => {
                        assert!(names.contains(version_attr), "{kind}.{}", attr.name)
                    }
                    AttrType::IpAddressIn { within } => {
                        assert!(names.contains(within), "{kind}.{}", attr.name)
                    }
                    AttrType::Rules { default_egress } => {
                        assert!(names.contains(default_egress), "{kind}.{}", attr.name)
                    }
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn exactly_one_kind_is_the_tenant_and_it_is_listed_cloud_wide() {
        let tenants: Vec<Kind> = Kind::ALL
            .into_iter()
            .filter(|k| k.schema().parent.is_none())
            .collect();
        assert_eq!(tenants, [tenant_kind()]);
        for kind in Kind::ALL {
            let cloud_wide = kind.schema().api.scope == ListScope::Cloud;
            assert_eq!(cloud_wide, kind == tenant_kind(), "{kind}");
        }
    }
}
