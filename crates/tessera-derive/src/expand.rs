//! The expansion of `#[derive(Module)]`, as a function of the parsed input (testable without a
//! compiler plugin).

use proc_macro2::{TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{
    Attribute, Data, DeriveInput, Error, Fields, GenericParam, Ident, Index, LitStr, Member, Path, Result, Type,
};

/// One field that is a part: how to reach it, its name, its type.
struct PartField {
    member: Member,
    name: String,
    ty: Type,
}

/// `impl ModuleParts for <input>`.
pub(crate) fn module_parts(input: &DeriveInput) -> Result<TokenStream> {
    let krate = crate_path(&input.attrs)?;
    let fields = match &input.data {
        Data::Struct(s) => &s.fields,
        Data::Enum(e) => return Err(Error::new(e.enum_token.span, "#[derive(Module)] supports structs only")),
        Data::Union(u) => return Err(Error::new(u.union_token.span, "#[derive(Module)] supports structs only")),
    };
    let parts = part_fields(fields)?;

    let type_params: Vec<&Ident> = input
        .generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => Some(&t.ident),
            _ => None,
        })
        .collect();
    let mut generics = input.generics.clone();
    let where_clause = generics.make_where_clause();
    for p in parts.iter().filter(|p| mentions(p.ty.to_token_stream(), &type_params)) {
        let ty = &p.ty;
        where_clause.predicates.push(syn::parse_quote!(#ty: #krate::ModuleField));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    let collect = parts.iter().map(|p| {
        let (member, name) = (&p.member, &p.name);
        quote_spanned!(p.ty.span()=> #krate::ModuleField::collect_parts(&self.#member, #name, &mut parts);)
    });
    let map = parts.iter().map(|p| {
        let (member, name) = (&p.member, &p.name);
        quote_spanned!(p.ty.span()=> #krate::ModuleField::map_parts(&mut self.#member, #name, f)?;)
    });
    let ident = &input.ident;
    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::ModuleParts for #ident #ty_generics #where_clause {
            fn parts(&self) -> ::std::vec::Vec<(::std::string::String, #krate::Part<'_>)> {
                #[allow(unused_mut)]
                let mut parts = ::std::vec::Vec::new();
                #(#collect)*
                parts
            }

            fn map_parameters(&mut self, f: &mut #krate::MapFn<'_>) -> #krate::Result<()> {
                let _ = &f;
                #(#map)*
                ::core::result::Result::Ok(())
            }
        }
    })
}

/// The fields that are parts, in declaration order.
fn part_fields(fields: &Fields) -> Result<Vec<PartField>> {
    let mut parts = Vec::new();
    for (i, field) in fields.iter().enumerate() {
        if is_skipped(&field.attrs)? {
            continue;
        }
        let (member, name) = match &field.ident {
            Some(id) => (Member::Named(id.clone()), id.unraw().to_string()),
            None => (Member::Unnamed(Index::from(i)), i.to_string()),
        };
        parts.push(PartField { member, name, ty: field.ty.clone() });
    }
    Ok(parts)
}

/// Whether a field carries `#[module(skip)]`; any other `module` attribute is an error.
fn is_skipped(attrs: &[Attribute]) -> Result<bool> {
    let mut skip = false;
    for attr in attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("skip") {
                skip = true;
                Ok(())
            } else {
                Err(meta.error("unknown field attribute: expected #[module(skip)]"))
            }
        })?;
    }
    Ok(skip)
}

/// The path of `tessera-nn`: `#[module(crate = "...")]` on the struct, else what the deriving
/// crate's manifest depends on (see [`path_from_manifest`]).
fn crate_path(attrs: &[Attribute]) -> Result<Path> {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .and_then(|dir| std::fs::read_to_string(std::path::Path::new(&dir).join("Cargo.toml")).ok());
    let mut path = path_from_manifest(manifest.as_deref().unwrap_or(""));
    for attr in attrs.iter().filter(|a| a.path().is_ident("module")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("crate") {
                path = meta.value()?.parse::<LitStr>()?.parse()?;
                Ok(())
            } else {
                Err(meta.error("unknown struct attribute: expected #[module(crate = \"path::to::tessera_nn\")]"))
            }
        })?;
    }
    Ok(path)
}

/// `::tessera::nn` for a crate that depends on the `tessera` facade and not on `tessera-nn`
/// itself, else `::tessera_nn` (`tessera-nn` names itself so too). Only the dependency keys of
/// the manifest are read, as `name = ...`, `name.workspace = ...` or a `[dependencies.name]`
/// table; a renamed dependency needs `#[module(crate = "...")]`.
fn path_from_manifest(manifest: &str) -> Path {
    let (mut nn, mut facade, mut in_deps) = (false, false, false);
    for line in manifest.lines().map(str::trim) {
        let key = if let Some(table) = line.strip_prefix('[') {
            let table = table.trim_end_matches(']').trim();
            in_deps = table.ends_with("dependencies");
            match table.rsplit_once("dependencies.") {
                Some((_, name)) => name,
                None => continue,
            }
        } else if in_deps {
            line.split(['=', '.']).next().unwrap_or("").trim()
        } else {
            continue;
        };
        nn |= key == "tessera-nn" || key == "tessera_nn";
        facade |= key == "tessera";
    }
    if facade && !nn {
        syn::parse_quote!(::tessera::nn)
    } else {
        syn::parse_quote!(::tessera_nn)
    }
}

/// Whether `tokens` name one of `idents` (a field type that uses a type parameter).
fn mentions(tokens: TokenStream, idents: &[&Ident]) -> bool {
    tokens.into_iter().any(|t| match t {
        TokenTree::Ident(i) => idents.iter().any(|p| **p == i),
        TokenTree::Group(g) => mentions(g.stream(), idents),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(input: TokenStream) -> Result<String> {
        module_parts(&syn::parse2(input)?).map(|t| t.to_string())
    }

    #[test]
    fn named_fields_become_parts_in_order_and_skipped_ones_do_not() {
        let out = expand(quote! {
            struct Net { fc1: Linear, #[module(skip)] size: usize, r#loop: Vec<Linear> }
        })
        .unwrap();
        let fc1 = out.find("collect_parts (& self . fc1 , \"fc1\"").expect(&out);
        let lp = out.find("collect_parts (& self . r#loop , \"loop\"").expect(&out);
        assert!(fc1 < lp, "{out}");
        assert!(!out.contains("size"), "{out}");
        assert!(out.contains("impl :: tessera_nn :: ModuleParts for Net"), "{out}");
    }

    #[test]
    fn tuple_fields_are_named_by_index() {
        let out = expand(quote! { struct Pair(Linear, #[module(skip)] f64, Linear); }).unwrap();
        assert!(out.contains("self . 0 , \"0\"") && out.contains("self . 2 , \"2\""), "{out}");
        assert!(!out.contains("\"1\""), "{out}");
    }

    #[test]
    fn generic_field_types_get_a_bound_and_the_crate_path_can_be_set() {
        let out = expand(quote! {
            #[module(crate = "tessera::nn")]
            struct Wrap<M> { inner: M, head: Linear }
        })
        .unwrap();
        assert!(out.contains("where M : tessera :: nn :: ModuleField"), "{out}");
        assert!(!out.contains("Linear : tessera :: nn :: ModuleField"), "{out}");
    }

    #[test]
    fn the_crate_path_follows_the_manifest_dependencies() {
        let path = |m: &str| path_from_manifest(m).to_token_stream().to_string();
        let facade = "[package]\nname = \"app\"\n\n[dependencies]\ntessera = \"0.1\"\nserde = \"1\"\n";
        assert_eq!(path(facade), ":: tessera :: nn");
        let both = "[dependencies]\ntessera = { path = \"x\" }\ntessera-nn.workspace = true\n";
        assert_eq!(path(both), ":: tessera_nn");
        assert_eq!(path("[dev-dependencies.tessera]\nversion = \"0.1\"\n"), ":: tessera :: nn");
        assert_eq!(path("[package]\nname = \"tessera\"\n[dependencies]\ntessera-core = \"0.1\"\n"), ":: tessera_nn");
        assert_eq!(path(""), ":: tessera_nn");
    }

    #[test]
    fn enums_and_unknown_attributes_are_errors() {
        let e = expand(quote! { enum E { A } }).unwrap_err();
        assert_eq!(e.to_string(), "#[derive(Module)] supports structs only");
        let e = expand(quote! { struct S { #[module(flatten)] a: Linear } }).unwrap_err();
        assert!(e.to_string().contains("expected #[module(skip)]"), "{e}");
        let e = expand(quote! { #[module(path = "x")] struct S { a: Linear } }).unwrap_err();
        assert!(e.to_string().contains("unknown struct attribute"), "{e}");
    }
}
