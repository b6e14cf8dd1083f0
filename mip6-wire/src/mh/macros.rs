//! `open_enum!`: an enum over a numeric code point with an `Unknown` variant, so that
//! code points this crate does not name still round-trip (the shape of smoltcp's
//! `enum_with_unknown!`, written anew here).
//!
//! `From<repr>` never yields `Unknown(v)` for a named `v`; building `Unknown(v)` by hand
//! with a named `v` is legal but not canonical (it converts back to the same number).

macro_rules! open_enum {
    (
        $( #[$enum_attr:meta] )*
        pub enum $name:ident($ty:ty) {
            $(
                $( #[$variant_attr:meta] )*
                $variant:ident = $value:literal
            ),+ $(,)?
        }
    ) => {
        $( #[$enum_attr] )*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $(
                $( #[$variant_attr] )*
                $variant,
            )+
            /// A code point this crate does not name, kept as its raw value so it round-trips.
            Unknown($ty),
        }

        impl ::core::convert::From<$ty> for $name {
            fn from(value: $ty) -> Self {
                match value {
                    $( $value => $name::$variant, )+
                    other => $name::Unknown(other),
                }
            }
        }

        impl ::core::convert::From<$name> for $ty {
            fn from(value: $name) -> Self {
                match value {
                    $( $name::$variant => $value, )+
                    $name::Unknown(other) => other,
                }
            }
        }

        impl $name {
            /// Every code point this enum names, in ascending order.
            pub const NAMED: &'static [$ty] = &[ $( $value ),+ ];
        }
    };
}

#[cfg(test)]
mod tests {
    open_enum! {
        /// Test enum.
        pub enum Demo(u8) {
            /// One.
            One = 1,
            /// Three.
            Three = 3,
        }
    }

    #[test]
    fn named_and_unknown_values_round_trip() {
        assert_eq!(Demo::from(1), Demo::One);
        assert_eq!(Demo::from(2), Demo::Unknown(2));
        assert_eq!(u8::from(Demo::Three), 3);
        assert_eq!(u8::from(Demo::Unknown(200)), 200);
        assert_eq!(Demo::NAMED, &[1, 3]);
    }
}
