//! `#[derive(Record)]` for `lanyard-store`: reads each named field from the column of the same
//! name, so a row type's reading is declared by its fields instead of written out beside them.
//!
//! Field attributes:
//! - `#[record(json)]`: the column holds JSON text, read into the field's type;
//! - `#[record(skip)]`: not a column; the field starts as its `Default`.
//!
//! The generated impl names `crate::db::{Record, Columns}`: it is for the store's own types.
//! Written here because the store reads rows of three drivers (sqlx's two and rusqlite) through
//! its own `Columns`, which no existing derive targets.

use proc_macro::TokenStream;
use quote::quote;
use syn::{parse_macro_input, Data, DeriveInput, Fields};

/// How one field is read.
enum Read {
    Column,
    Json,
    Skip,
}

fn read_of(field: &syn::Field) -> syn::Result<Read> {
    let mut read = Read::Column;
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("record")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("json") {
                read = Read::Json;
                Ok(())
            } else if meta.path.is_ident("skip") {
                read = Read::Skip;
                Ok(())
            } else {
                Err(meta.error("expected `json` or `skip`"))
            }
        })?;
    }
    Ok(read)
}

/// Derives `crate::db::Record` for a struct with named fields.
#[proc_macro_derive(Record, attributes(record))]
pub fn derive_record(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(input: &DeriveInput) -> syn::Result<proc_macro2::TokenStream> {
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            input,
            "Record is derived for structs",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(input, "Record needs named fields"));
    };
    let mut reads = Vec::new();
    for field in &fields.named {
        let name = field.ident.as_ref().expect("a named field");
        let column = name.to_string();
        reads.push(match read_of(field)? {
            Read::Column => quote! { #name: row.get(#column)? },
            Read::Json => quote! {
                #name: ::serde_json::from_str(&row.get::<String>(#column)?)?
            },
            Read::Skip => quote! { #name: ::core::default::Default::default() },
        });
    }
    let ty = &input.ident;
    Ok(quote! {
        impl crate::db::Record for #ty {
            fn read(row: &impl crate::db::Columns) -> crate::Result<Self> {
                Ok(#ty { #(#reads),* })
            }
        }
    })
}
