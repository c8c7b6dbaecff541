//! The part of TFLite's flatbuffer schema a dense network needs, read through the `flatbuffers`
//! crate's `Table` and checked by its `Verifier` before any field is read.
//!
//! Field slots are those of `tensorflow/compiler/mlir/lite/schema/schema.fbs` (schema version 3,
//! `file_identifier "TFL3"`; TensorFlow 2.21): a table field with id `n` sits at vtable offset
//! `4 + 2n`, and a union takes two ids, its type then its value. Only the fields named here are
//! declared (flatbuffers readers skip the others, so this subset reads every TFLite file); the
//! unions' variant numbers are their 1-based places in `union BuiltinOptions`.
//!
//! Reading a flatbuffer field is `unsafe` in the `flatbuffers` crate: the caller promises the
//! bytes at that slot hold that type. Each table below is declared once, in `table!`, which
//! makes both its verifier and its accessors from the same `(name, type, slot)` list, so no
//! accessor reads a slot as a type the verifier did not check; [`Model`] values are only made by
//! [`root`], which runs the verifier over the whole buffer first.

#![allow(unsafe_code)]

use flatbuffers::{
    Follow, ForwardsUOffset, InvalidFlatbuffer, Table, TableVerifier, Vector, Verifiable, Verifier,
    VerifierOptions,
};

/// `BuiltinOptions` variant of [`FullyConnectedOptions`].
pub const OPTIONS_FULLY_CONNECTED: u8 = 8;
/// `BuiltinOptions` variant of [`SoftmaxOptions`].
pub const OPTIONS_SOFTMAX: u8 = 9;

/// Declares a table: its type, its `Follow` (a `Table` at the location), its verifier (each
/// field visited as its declared type, then the optional extra check) and one accessor a field.
macro_rules! table {
    (
        $(#[$doc:meta])* $name:ident {
            $( $(#[$field_doc:meta])* $field:ident : $ty:ty = $slot:expr, )*
        } $(extra $extra:path)?
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name<'a>(
            // Unread only in a table declared without fields (`Empty`).
            #[allow(dead_code)] Table<'a>,
        );

        impl<'a> Follow<'a> for $name<'a> {
            type Inner = Self;
            unsafe fn follow(buf: &'a [u8], loc: usize) -> Self {
                // SAFETY: `follow`'s contract (a verified table of this type at `loc`) is
                // `Table::new`'s.
                Self(unsafe { Table::new(buf, loc) })
            }
        }

        impl<'a> Verifiable for $name<'a> {
            fn run_verifier(v: &mut Verifier<'_, '_>, pos: usize) -> Result<(), InvalidFlatbuffer> {
                let tv = v.visit_table(pos)?;
                $( let tv = tv.visit_field::<$ty>(stringify!($field), $slot, false)?; )*
                $( let tv = $extra(tv)?; )?
                tv.finish();
                Ok(())
            }
        }

        impl<'a> $name<'a> {
            $(
                $(#[$field_doc])*
                pub fn $field(&self) -> Option<<$ty as Follow<'a>>::Inner> {
                    // SAFETY: a value of this type exists only inside a buffer `root` verified,
                    // and `run_verifier` above visited this slot as `$ty`.
                    unsafe { self.0.get::<$ty>($slot, None) }
                }
            )*
        }
    };
}

type Vec32<'a, T> = ForwardsUOffset<Vector<'a, T>>;
type Tables<'a, T> = ForwardsUOffset<Vector<'a, ForwardsUOffset<T>>>;
type Str<'a> = ForwardsUOffset<&'a str>;

table! {
    /// `table Model`, the root.
    Model {
        /// Schema version (3).
        version: u32 = 4,
        /// Operator codes; operators index into them.
        operator_codes: Tables<'a, OperatorCode<'a>> = 6,
        /// Subgraphs; the first is the model.
        subgraphs: Tables<'a, SubGraph<'a>> = 8,
        /// Free text (the converter writes "MLIR Converted.").
        description: Str<'a> = 10,
        /// Constant data; tensors index into them, 0 is the empty sentinel.
        buffers: Tables<'a, Buffer<'a>> = 12,
    }
}

table! {
    /// `table OperatorCode`.
    OperatorCode {
        /// The builtin code for codes below 127 (`byte`).
        deprecated_builtin_code: i8 = 4,
        /// Set for custom operators.
        custom_code: Str<'a> = 6,
        /// The builtin code (`BuiltinOperator`, int32).
        builtin_code: i32 = 10,
    }
}

table! {
    /// `table SubGraph`.
    SubGraph {
        /// Every tensor of the subgraph.
        tensors: Tables<'a, Tensor<'a>> = 4,
        /// Tensor indices of the inputs.
        inputs: Vec32<'a, i32> = 6,
        /// Tensor indices of the outputs.
        outputs: Vec32<'a, i32> = 8,
        /// Operators in execution order.
        operators: Tables<'a, Operator<'a>> = 10,
    }
}

table! {
    /// `table Tensor`.
    Tensor {
        /// Dimensions.
        shape: Vec32<'a, i32> = 4,
        /// `TensorType` (`byte`): 0 FLOAT32, 2 INT32, 9 INT8, ...
        tensor_type: i8 = 6,
        /// Index into the model's buffers (0: no data).
        buffer: u32 = 8,
        /// Name.
        name: Str<'a> = 10,
        /// Quantization, if any.
        quantization: ForwardsUOffset<QuantizationParameters<'a>> = 12,
        /// A variable (mutable state).
        is_variable: bool = 14,
        /// Sparsity parameters (a table; only its presence is read).
        sparsity: ForwardsUOffset<Empty<'a>> = 16,
        /// Dimensions with -1 for unknown ones.
        shape_signature: Vec32<'a, i32> = 18,
    }
}

table! {
    /// `table QuantizationParameters`: `real = scale · (q − zero_point)`.
    QuantizationParameters {
        /// Scales (one, or one per channel).
        scale: Vec32<'a, f32> = 8,
        /// Zero points (`long`).
        zero_point: Vec32<'a, i64> = 10,
        /// `QuantizationDetails` union type (non-zero: custom quantization).
        details_type: u8 = 12,
        /// The dimension the per-channel values run along.
        quantized_dimension: i32 = 16,
    }
}

table! {
    /// `table Buffer`.
    Buffer {
        /// The bytes, little-endian values.
        data: Vec32<'a, u8> = 4,
        /// Offset of data stored outside the flatbuffer (files over 2 GB).
        offset: u64 = 6,
    }
}

table! {
    /// `table Operator`.
    Operator {
        /// Index into the model's operator codes.
        opcode_index: u32 = 4,
        /// Input tensor indices (-1: an optional input left out).
        inputs: Vec32<'a, i32> = 6,
        /// Output tensor indices.
        outputs: Vec32<'a, i32> = 8,
        /// `BuiltinOptions` union type.
        builtin_options_type: u8 = 10,
        /// Indices of tensors this operator mutates (RNN state).
        mutating_variable_inputs: Vec32<'a, bool> = 18,
        /// Internal tensors.
        intermediates: Vec32<'a, i32> = 20,
        /// `BuiltinOptions2` union type.
        builtin_options_2_type: u8 = 26,
    } extra verify_builtin_options
}

impl<'a> Operator<'a> {
    /// The options when they are `FullyConnectedOptions`.
    pub fn fully_connected_options(&self) -> Option<FullyConnectedOptions<'a>> {
        self.options(OPTIONS_FULLY_CONNECTED)
    }

    /// The options when they are `SoftmaxOptions`.
    pub fn softmax_options(&self) -> Option<SoftmaxOptions<'a>> {
        self.options(OPTIONS_SOFTMAX)
    }

    fn options<T: Follow<'a, Inner = T> + 'a>(&self, variant: u8) -> Option<T> {
        if self.builtin_options_type() != Some(variant) {
            return None;
        }
        // SAFETY: `verify_builtin_options` verified slot 12 as the variant its type field (slot
        // 10, read just above from the same bytes) names; each caller passes the variant number
        // of the `T` it asks for.
        unsafe { self.0.get::<ForwardsUOffset<T>>(12, None) }
    }
}

/// `builtin_options` (slots 10 and 12) verified as the table its type names; the variants this
/// reader never reads are only checked for being consistent with their type field.
fn verify_builtin_options<'v, 'o, 'b>(
    tv: TableVerifier<'v, 'o, 'b>,
) -> Result<TableVerifier<'v, 'o, 'b>, InvalidFlatbuffer> {
    tv.visit_union::<u8, _>(
        "builtin_options_type",
        10,
        "builtin_options",
        12,
        false,
        |variant, v, pos| match variant {
            OPTIONS_FULLY_CONNECTED => v
                .verify_union_variant::<ForwardsUOffset<FullyConnectedOptions<'_>>>(
                    "FullyConnectedOptions",
                    pos,
                ),
            OPTIONS_SOFTMAX => {
                v.verify_union_variant::<ForwardsUOffset<SoftmaxOptions<'_>>>("SoftmaxOptions", pos)
            }
            _ => Ok(()),
        },
    )
}

table! {
    /// `table FullyConnectedOptions`.
    FullyConnectedOptions {
        /// `ActivationFunctionType` (`byte`): 0 NONE, 1 RELU, 2 RELU_N1_TO_1, 3 RELU6, ...
        fused_activation_function: i8 = 4,
        /// 0 DEFAULT, 1 SHUFFLED4x16INT8.
        weights_format: i8 = 6,
        /// `TensorType` of a quantized bias and accumulator (0: the default).
        quantized_bias_type: i8 = 12,
    }
}

table! {
    /// `table SoftmaxOptions`.
    SoftmaxOptions {
        /// `softmax(beta · x)`.
        beta: f32 = 4,
    }
}

table! {
    /// A table whose fields are not read (only that it is a well-formed table).
    Empty {}
}

/// The model of a verified buffer.
///
/// # Errors
/// The verifier's finding (a truncated buffer, an offset out of bounds, a bad string, ...).
pub fn root(bytes: &[u8]) -> Result<Model<'_>, InvalidFlatbuffer> {
    // Default limits, but no larger apparent size than the file itself can hold many times.
    let options = VerifierOptions {
        max_depth: 32,
        max_tables: 1 << 20,
        ..VerifierOptions::default()
    };
    flatbuffers::root_with_opts::<Model<'_>>(&options, bytes)
}

/// Element `index` of `vector`, or `None` past its end (`Vector::get` panics there).
pub fn at<'a, T: Follow<'a> + 'a>(vector: &Vector<'a, T>, index: usize) -> Option<T::Inner> {
    (index < vector.len()).then(|| vector.get(index))
}
