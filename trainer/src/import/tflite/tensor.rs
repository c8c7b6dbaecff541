//! What the reader asks of a TFLite tensor: its shape, its quantization, names for messages.

use model_format::Quant;

use super::schema::Tensor;

/// The shape as sizes (negative sizes as 0, which no check accepts).
pub(super) fn dims(tensor: &Tensor<'_>) -> Vec<usize> {
    tensor
        .shape()
        .map(|s| s.iter().map(|d| usize::try_from(d).unwrap_or(0)).collect())
        .unwrap_or_default()
}

/// A shape with every size known: no `-1` in `shape_signature` past the batch dimension, and
/// none in `shape`.
pub(super) fn static_shape(tensor: &Tensor<'_>) -> Result<(), String> {
    let shape: Vec<i32> = tensor
        .shape()
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    let signature: Vec<i32> = tensor
        .shape_signature()
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    if shape.iter().any(|&d| d <= 0) || signature.iter().skip(1).any(|&d| d < 0) {
        return Err(format!(
            "dynamic or empty shape {shape:?} (signature {signature:?}): only the batch \
             dimension may be unknown"
        ));
    }
    Ok(())
}

/// Features of an activation tensor: `[n]` or `[1, ...]` (one row), every size known.
pub(super) fn row_width(tensor: &Tensor<'_>) -> Result<usize, String> {
    static_shape(tensor)?;
    let shape = dims(tensor);
    let rest = match shape.as_slice() {
        [] => return Err("a scalar, not a row".into()),
        [_] => &shape[..],
        [1, rest @ ..] => rest,
        [batch, ..] => {
            return Err(format!(
                "shape {shape:?}: a batch of {batch}; one row is supported"
            ));
        }
    };
    rest.iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("shape {shape:?} overflows"))
}

/// `(scales, zero points, quantized dimension)`, if the tensor has any scale.
pub(super) fn quant_of(tensor: &Tensor<'_>) -> Option<(Vec<f32>, Vec<i64>, i32)> {
    let q = tensor.quantization()?;
    if q.details_type().unwrap_or(0) != 0 {
        return None;
    }
    let scales: Vec<f32> = q.scale()?.iter().collect();
    let zero_points = q
        .zero_point()
        .map(|z| z.iter().collect())
        .unwrap_or_default();
    (!scales.is_empty()).then_some((scales, zero_points, q.quantized_dimension().unwrap_or(0)))
}

/// An int8 activation's quantization: one finite positive scale, one zero point in range.
pub(super) fn activation_quant(tensor: &Tensor<'_>) -> Result<Quant, String> {
    match quant_of(tensor) {
        Some((scales, zero_points, _)) if scales.len() == 1 && zero_points.len() == 1 => {
            let (scale, zero_point) = (scales[0], zero_points[0]);
            if !(scale.is_finite() && scale > 0.0 && (-128..=127).contains(&zero_point)) {
                return Err(format!(
                    "quantization (scale {scale}, zero point {zero_point}) out of range"
                ));
            }
            Ok(Quant {
                scale,
                zero_point: zero_point as i32,
            })
        }
        Some((scales, zero_points, _)) => Err(format!(
            "{} scales and {} zero points; an int8 activation has one of each",
            scales.len(),
            zero_points.len()
        )),
        None => Err("an int8 tensor without quantization".into()),
    }
}

pub(super) fn tensor_name(tensor: &Tensor<'_>) -> String {
    format!("{:?}", tensor.name().unwrap_or(""))
}

pub(super) fn type_name(code: i8) -> &'static str {
    const NAMES: [&str; 19] = [
        "FLOAT32",
        "FLOAT16",
        "INT32",
        "UINT8",
        "INT64",
        "STRING",
        "BOOL",
        "INT16",
        "COMPLEX64",
        "INT8",
        "FLOAT64",
        "COMPLEX128",
        "UINT64",
        "RESOURCE",
        "VARIANT",
        "UINT32",
        "UINT16",
        "INT4",
        "BFLOAT16",
    ];
    usize::try_from(code)
        .ok()
        .and_then(|c| NAMES.get(c))
        .copied()
        .unwrap_or("an unknown type")
}

pub(super) fn activation_name(code: i8) -> String {
    const NAMES: [&str; 6] = ["NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT"];
    usize::try_from(code)
        .ok()
        .and_then(|c| NAMES.get(c))
        .map_or_else(|| format!("{code}"), |n| (*n).to_owned())
}

/// `BuiltinOperator` names by code (TFLite's `schema.fbs`, through code 209).
#[rustfmt::skip]
pub(super) const OPERATOR_NAMES: [&str; 210] = [
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEPTH_TO_SPACE",
    "DEQUANTIZE", "EMBEDDING_LOOKUP", "FLOOR", "FULLY_CONNECTED", "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION", "L2_POOL_2D", "LOCAL_RESPONSE_NORMALIZATION", "LOGISTIC",
    "LSH_PROJECTION", "LSTM", "MAX_POOL_2D", "MUL", "RELU", "RELU_N1_TO_1", "RELU6", "RESHAPE",
    "RESIZE_BILINEAR", "RNN", "SOFTMAX", "SPACE_TO_DEPTH", "SVDF", "TANH", "CONCAT_EMBEDDINGS",
    "SKIP_GRAM", "CALL", "CUSTOM", "EMBEDDING_LOOKUP_SPARSE", "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN", "GATHER", "BATCH_TO_SPACE_ND", "SPACE_TO_BATCH_ND",
    "TRANSPOSE", "MEAN", "SUB", "DIV", "SQUEEZE", "UNIDIRECTIONAL_SEQUENCE_LSTM", "STRIDED_SLICE",
    "BIDIRECTIONAL_SEQUENCE_RNN", "EXP", "TOPK_V2", "SPLIT", "LOG_SOFTMAX", "DELEGATE",
    "BIDIRECTIONAL_SEQUENCE_LSTM", "CAST", "PRELU", "MAXIMUM", "ARG_MAX", "MINIMUM", "LESS",
    "NEG", "PADV2", "GREATER", "GREATER_EQUAL", "LESS_EQUAL", "SELECT", "SLICE", "SIN",
    "TRANSPOSE_CONV", "SPARSE_TO_DENSE", "TILE", "EXPAND_DIMS", "EQUAL", "NOT_EQUAL", "LOG",
    "SUM", "SQRT", "RSQRT", "SHAPE", "POW", "ARG_MIN", "FAKE_QUANT", "REDUCE_PROD", "REDUCE_MAX",
    "PACK", "LOGICAL_OR", "ONE_HOT", "LOGICAL_AND", "LOGICAL_NOT", "UNPACK", "REDUCE_MIN",
    "FLOOR_DIV", "REDUCE_ANY", "SQUARE", "ZEROS_LIKE", "FILL", "FLOOR_MOD", "RANGE",
    "RESIZE_NEAREST_NEIGHBOR", "LEAKY_RELU", "SQUARED_DIFFERENCE", "MIRROR_PAD", "ABS", "SPLIT_V",
    "UNIQUE", "CEIL", "REVERSE_V2", "ADD_N", "GATHER_ND", "COS", "WHERE", "RANK", "ELU",
    "REVERSE_SEQUENCE", "MATRIX_DIAG", "QUANTIZE", "MATRIX_SET_DIAG", "ROUND", "HARD_SWISH", "IF",
    "WHILE", "NON_MAX_SUPPRESSION_V4", "NON_MAX_SUPPRESSION_V5", "SCATTER_ND", "SELECT_V2",
    "DENSIFY", "SEGMENT_SUM", "BATCH_MATMUL", "PLACEHOLDER_FOR_GREATER_OP_CODES", "CUMSUM",
    "CALL_ONCE", "BROADCAST_TO", "RFFT2D", "CONV_3D", "IMAG", "REAL", "COMPLEX_ABS", "HASHTABLE",
    "HASHTABLE_FIND", "HASHTABLE_IMPORT", "HASHTABLE_SIZE", "REDUCE_ALL", "CONV_3D_TRANSPOSE",
    "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE", "BROADCAST_ARGS", "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE", "RANDOM_UNIFORM", "MULTINOMIAL", "GELU", "DYNAMIC_UPDATE_SLICE", "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD", "UNSORTED_SEGMENT_MAX", "UNSORTED_SEGMENT_SUM", "ATAN2",
    "UNSORTED_SEGMENT_MIN", "SIGN", "BITCAST", "BITWISE_XOR", "RIGHT_SHIFT", "STABLEHLO_LOGISTIC",
    "STABLEHLO_ADD", "STABLEHLO_DIVIDE", "STABLEHLO_MULTIPLY", "STABLEHLO_MAXIMUM",
    "STABLEHLO_RESHAPE", "STABLEHLO_CLAMP", "STABLEHLO_CONCATENATE", "STABLEHLO_BROADCAST_IN_DIM",
    "STABLEHLO_CONVOLUTION", "STABLEHLO_SLICE", "STABLEHLO_CUSTOM_CALL", "STABLEHLO_REDUCE",
    "STABLEHLO_ABS", "STABLEHLO_AND", "STABLEHLO_COSINE", "STABLEHLO_EXPONENTIAL",
    "STABLEHLO_FLOOR", "STABLEHLO_LOG", "STABLEHLO_MINIMUM", "STABLEHLO_NEGATE", "STABLEHLO_OR",
    "STABLEHLO_POWER", "STABLEHLO_REMAINDER", "STABLEHLO_RSQRT", "STABLEHLO_SELECT",
    "STABLEHLO_SUBTRACT", "STABLEHLO_TANH", "STABLEHLO_SCATTER", "STABLEHLO_COMPARE",
    "STABLEHLO_CONVERT", "STABLEHLO_DYNAMIC_SLICE", "STABLEHLO_DYNAMIC_UPDATE_SLICE",
    "STABLEHLO_PAD", "STABLEHLO_IOTA", "STABLEHLO_DOT_GENERAL", "STABLEHLO_REDUCE_WINDOW",
    "STABLEHLO_SORT", "STABLEHLO_WHILE", "STABLEHLO_GATHER", "STABLEHLO_TRANSPOSE", "DILATE",
    "STABLEHLO_RNG_BIT_GENERATOR", "REDUCE_WINDOW", "STABLEHLO_COMPOSITE", "STABLEHLO_SHIFT_LEFT",
    "STABLEHLO_CBRT", "STABLEHLO_CASE",
];
