//! TFLite flatbuffers of dense networks: float32 as a [`Step`] chain, int8 as int8 layers with
//! the file's own integers.
//!
//! The file is checked by the `flatbuffers` crate's verifier against the schema subset of
//! `tflite/schema.rs` (TFLite's `schema.fbs`, version 3) before any field is read, so a truncated or
//! corrupt file is an error, never a panic. The model must be one subgraph holding one chain
//! from its one input to its one output: each operator reads the previous one's output (plus
//! constants), and nothing else reads it. The operators mapped:
//!
//! | TFLite | float32 model | int8 model |
//! |---|---|---|
//! | `FULLY_CONNECTED` (fused `NONE` or `RELU`) | a dense layer, weight `[out, in]` as is | an int8 dense layer, the same integers |
//! | `RESHAPE` to one row | nothing (checked to keep the width) | nothing (and the same quantization) |
//! | `SOFTMAX` (β = 1), last | the last layer's softmax | the last layer's `Softmax` tag (see below) |
//! | `QUANTIZE`, first | — | the device's `p − 128` input |
//! | `DEQUANTIZE`, last | — | the device's `(q − zp) · scale` outputs |
//!
//! TFLite's `FULLY_CONNECTED` weight is `[out, in]`, the device's layout (PyTorch's, not
//! Keras's kernel): no transpose. The converter has already folded BatchNorm into the
//! neighbouring `FULLY_CONNECTED` (the `…/batchnorm/mul` weight names say so).
//!
//! An int8 model is taken as TFLite's reference kernels compute it: per row `o`,
//! `acc = bias[o] + Σ w[o][i] · (x[i] − zx)`, requantized by the real factor
//! `(double)input_scale · (double)filter_scale[o] / (double)output_scale` (`kernel_util.cc`
//! `PopulateConvolutionQuantizationParams` per channel; `GetQuantizedConvolutionMultipler`
//! per tensor, the one scale for every row). The file's weights, biases, zero points and
//! scales are copied as they are; the factor becomes the Q31 multiplier and shift of
//! `QuantizeMultiplier`, computed from the same doubles ([`crate::quantize::requantization`]),
//! which `model-format`'s int8 layers hold and the firmware applies with TFLite's default
//! (double-rounding) `MultiplyByQuantizedMultiplier`, as TFLM does. TFLite's desktop
//! interpreter (ai-edge-litert 2.3) rounds the same factor differently: on the committed
//! fixtures its outputs equal `round(acc · factor)` in f64 on every output, and the
//! firmware's differ by one on 4–7 % of them (`tests/import_tflite.rs` counts them).
//! The checks that make this exact: weight zero points 0; activations one scale and zero point
//! each; the first layer's input quantization is the device's pixel contract (the model file's
//! input scale, zero point −128, so `p − 128` is what TFLite's `QUANTIZE` gives for `p · scale`);
//! each layer's input quantization is the previous layer's output quantization, bit for bit.
//! TFLite's int8 `SOFTMAX` (output scale 1/256, zero point −128) is not run by the device: an
//! imported int8 model's outputs are the last `FULLY_CONNECTED`'s int8 outputs (the logits),
//! and the `Softmax` tag tells a reader to apply softmax to their dequantized values.
//!
//! Anything else (another operator, a branch, a dynamic shape, a weight that is not a constant,
//! several subgraphs, a tensor of another type) is refused naming the operator's index, its
//! operator and the reason.

mod schema;
mod tensor;

use flatbuffers::{ForwardsUOffset, Vector};
use model_format::{Activation, PIXEL_ZERO_POINT, Quant};

use super::chain::{Op, Step};
use schema::{Model, Operator, Tensor, at};
use tensor::{
    OPERATOR_NAMES, activation_name, activation_quant, dims, quant_of, row_width, static_shape,
    tensor_name, type_name,
};

/// Why a TFLite file cannot be imported.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TfliteError {
    /// The flatbuffer verifier refused the bytes (truncated, corrupt, not TFLite).
    #[error("not a valid TFLite flatbuffer: {0}")]
    Invalid(String),
    /// Something about the whole model (version, subgraphs, inputs, outputs).
    #[error("{0}")]
    Model(String),
    /// An operator that cannot be mapped, with the reason.
    #[error("operator {index} ({op}): {reason}")]
    Operator {
        /// Its index in the subgraph's execution order.
        index: usize,
        /// Its operator (`FULLY_CONNECTED`, `CUSTOM "name"`, ...).
        op: String,
        /// Why.
        reason: String,
    },
}

/// One int8 `FULLY_CONNECTED`, as the file holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Int8Dense {
    /// Inputs.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
    /// `Relu` for a fused ReLU; `Softmax` when a `SOFTMAX` follows; else `None`.
    pub activation: Activation,
    /// The input's quantization.
    pub input: Quant,
    /// The output's quantization.
    pub output: Quant,
    /// # Shapes
    /// `[outputs][inputs]`, row-major.
    pub weights: Vec<i8>,
    /// # Shapes
    /// `[outputs]`, in units of `input.scale · weight_scale[o]` (zeros when the file has none).
    pub bias: Vec<i32>,
    /// # Shapes
    /// `[outputs]` (a per-tensor scale repeated on every row).
    pub weight_scale: Vec<f32>,
}

/// What the network becomes.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A float32 model: the chain to fold.
    Float(Vec<Step>),
    /// An int8 model: its layers.
    Int8(Vec<Int8Dense>),
}

/// The network read from a TFLite file.
#[derive(Debug, Clone, PartialEq)]
pub struct TfliteGraph {
    /// Features per input row.
    pub input_features: usize,
    /// The layers.
    pub body: Body,
    /// One line per operator: what it became.
    pub mapping: Vec<String>,
    /// Schema version and the file's description.
    pub producer: String,
}

/// `BuiltinOperator` codes mapped.
const DEQUANTIZE: i32 = 6;
const FULLY_CONNECTED: i32 = 9;
const RESHAPE: i32 = 22;
const SOFTMAX: i32 = 25;
const CUSTOM: i32 = 32;
const QUANTIZE: i32 = 114;

/// `TensorType` codes used.
const FLOAT32: i8 = 0;
const INT32: i8 = 2;
const INT8: i8 = 9;

/// `ActivationFunctionType` codes.
const ACT_NONE: i8 = 0;
const ACT_RELU: i8 = 1;

/// Reads `bytes` (a TFLite flatbuffer) as a dense chain; an int8 model's first layer must take
/// `p − 128` with scale `input_scale` (the model file's input contract).
///
/// # Errors
/// [`TfliteError`] naming the operator and the reason.
pub fn read_tflite(bytes: &[u8], input_scale: f32) -> Result<TfliteGraph, TfliteError> {
    let model = schema::root(bytes).map_err(|e| {
        let message = e.to_string();
        TfliteError::Invalid(message.lines().next().unwrap_or_default().trim().to_owned())
    })?;
    let version = model.version().unwrap_or(0);
    if version != 3 {
        return Err(TfliteError::Model(format!(
            "schema version {version}; version 3 is supported"
        )));
    }
    let graph = Graph::new(&model)?;
    let mut walk = Walk::start(&graph, input_scale)?;
    let operators = graph.operators;
    for index in 0..operators.len() {
        let op = at(&operators, index).expect("index below the length");
        walk.operator(index, &op, index + 1 == operators.len())?;
    }
    walk.finish(version, model.description())
}

/// The one subgraph, with who produces and who reads each tensor.
struct Graph<'a> {
    model: Model<'a>,
    tensors: Vector<'a, ForwardsUOffset<Tensor<'a>>>,
    operators: Vector<'a, ForwardsUOffset<Operator<'a>>>,
    input: usize,
    output: usize,
    /// Per tensor: written by an operator, or a subgraph input.
    produced: Vec<bool>,
    /// Per tensor: how many operator inputs read it.
    readers: Vec<usize>,
}

impl<'a> Graph<'a> {
    fn new(model: &Model<'a>) -> Result<Self, TfliteError> {
        let fail = |m: String| Err(TfliteError::Model(m));
        let count = model.subgraphs().map_or(0, |s| s.len());
        let Some(subgraph) = model
            .subgraphs()
            .and_then(|s| at(&s, 0))
            .filter(|_| count == 1)
        else {
            return fail(format!(
                "{count} subgraphs; one is supported (no control flow or extra signatures)"
            ));
        };
        let (Some(tensors), Some(operators)) = (subgraph.tensors(), subgraph.operators()) else {
            return fail("the subgraph has no tensors or no operators".into());
        };
        let single = |v: Option<Vector<'a, i32>>, what: &str| -> Result<usize, TfliteError> {
            let v: Vec<i32> = v.map(|v| v.iter().collect()).unwrap_or_default();
            match v.as_slice() {
                [i] => usize::try_from(*i)
                    .ok()
                    .filter(|&i| i < tensors.len())
                    .ok_or_else(|| TfliteError::Model(format!("{what} tensor {i} does not exist"))),
                _ => Err(TfliteError::Model(format!(
                    "the subgraph has {} {what}s; one is supported",
                    v.len()
                ))),
            }
        };
        let input = single(subgraph.inputs(), "input")?;
        let output = single(subgraph.outputs(), "output")?;
        let mut produced = vec![false; tensors.len()];
        let mut readers = vec![0; tensors.len()];
        produced[input] = true;
        for op in operators.iter() {
            for t in op.outputs().into_iter().flatten() {
                if let Some(p) = usize::try_from(t).ok().and_then(|t| produced.get_mut(t)) {
                    *p = true;
                }
            }
            for t in op.inputs().into_iter().flatten() {
                if let Some(r) = usize::try_from(t).ok().and_then(|t| readers.get_mut(t)) {
                    *r += 1;
                }
            }
        }
        Ok(Self {
            model: *model,
            tensors,
            operators,
            input,
            output,
            produced,
            readers,
        })
    }

    fn tensor(&self, index: usize) -> Tensor<'a> {
        at(&self.tensors, index).expect("tensor indices are checked before use")
    }
}

/// The walk along the chain.
struct Walk<'g, 'a> {
    graph: &'g Graph<'a>,
    /// The chain's current tensor and its width.
    current: usize,
    features: usize,
    input_features: usize,
    /// The quantization the current tensor must have (int8 chains).
    quant: Option<Quant>,
    input_scale: f32,
    steps: Vec<Step>,
    int8: Vec<Int8Dense>,
    mapping: Vec<String>,
}

/// An operator being mapped: its index, name and inputs, for messages.
struct At<'o, 'a> {
    index: usize,
    name: String,
    op: &'o Operator<'a>,
    inputs: Vec<i32>,
}

impl At<'_, '_> {
    fn fail<T>(&self, reason: impl Into<String>) -> Result<T, TfliteError> {
        Err(TfliteError::Operator {
            index: self.index,
            op: self.name.clone(),
            reason: reason.into(),
        })
    }
}

impl<'g, 'a> Walk<'g, 'a> {
    fn start(graph: &'g Graph<'a>, input_scale: f32) -> Result<Self, TfliteError> {
        let tensor = graph.tensor(graph.input);
        let features = row_width(&tensor).map_err(|reason| {
            TfliteError::Model(format!("input tensor {}: {reason}", tensor_name(&tensor)))
        })?;
        let mut walk = Self {
            graph,
            current: graph.input,
            features,
            input_features: features,
            quant: None,
            input_scale,
            steps: Vec::new(),
            int8: Vec::new(),
            mapping: Vec::new(),
        };
        match tensor.tensor_type().unwrap_or(FLOAT32) {
            FLOAT32 => {}
            INT8 => walk.quant = Some(walk.pixel_contract(&tensor).map_err(TfliteError::Model)?),
            other => {
                return Err(TfliteError::Model(format!(
                    "input tensor {} is {}; FLOAT32 or INT8 is supported",
                    tensor_name(&tensor),
                    type_name(other)
                )));
            }
        }
        Ok(walk)
    }

    /// The quantization of an int8 model's input `tensor`, which must be the device's.
    fn pixel_contract(&self, tensor: &Tensor<'_>) -> Result<Quant, String> {
        let quant = activation_quant(tensor)?;
        if quant.scale.to_bits() != self.input_scale.to_bits()
            || quant.zero_point != PIXEL_ZERO_POINT
        {
            return Err(format!(
                "tensor {} has quantization (scale {:e}, zero point {}); the device feeds \
                 pixels p as p − 128 with scale {:e} (--input-scale) and zero point {}",
                tensor_name(tensor),
                quant.scale,
                quant.zero_point,
                self.input_scale,
                PIXEL_ZERO_POINT
            ));
        }
        Ok(quant)
    }

    fn operator(&mut self, index: usize, op: &Operator<'a>, last: bool) -> Result<(), TfliteError> {
        let (code, name) = self.code(op);
        let here = At {
            index,
            name,
            op,
            inputs: op.inputs().map(|v| v.iter().collect()).unwrap_or_default(),
        };
        let outputs: Vec<i32> = op.outputs().map(|v| v.iter().collect()).unwrap_or_default();
        match code {
            FULLY_CONNECTED | RESHAPE | SOFTMAX => {}
            QUANTIZE if index == 0 => {}
            DEQUANTIZE if last => {}
            QUANTIZE => return here.fail("QUANTIZE is supported only as the first operation"),
            DEQUANTIZE => {
                return here.fail(
                    "DEQUANTIZE is supported only as the last operation (a float16 weight's \
                     DEQUANTIZE is not: convert without float16 quantization)",
                );
            }
            _ => return here.fail(format!("operator {} is not supported", here.name)),
        }
        if op.builtin_options_2_type().unwrap_or(0) != 0
            || op.intermediates().is_some_and(|v| !v.is_empty())
            || op.mutating_variable_inputs().is_some_and(|v| !v.is_empty())
        {
            return here.fail("options, intermediates or variables this reader does not know");
        }
        match here.inputs.first() {
            Some(&first) if usize::try_from(first).ok() == Some(self.current) => {}
            Some(&first) => {
                return here.fail(format!(
                    "reads tensor {first}, not the previous operation's output (tensor {} {}): \
                     only a single chain of operations is supported (no branches)",
                    self.current,
                    tensor_name(&self.graph.tensor(self.current))
                ));
            }
            None => return here.fail("has no input"),
        }
        if self.graph.readers[self.current] != 1 {
            return here.fail(format!(
                "tensor {} is read by {} operators: only a single chain is supported (no branches)",
                tensor_name(&self.graph.tensor(self.current)),
                self.graph.readers[self.current]
            ));
        }
        let output = match outputs.as_slice() {
            [o] => usize::try_from(*o)
                .ok()
                .filter(|&o| o < self.graph.tensors.len()),
            _ => None,
        };
        let Some(output) = output else {
            return here.fail(format!(
                "has outputs {outputs:?}; one existing tensor is supported"
            ));
        };
        let input = self.graph.tensor(self.current);
        let out = self.graph.tensor(output);
        let width = row_width(&out)
            .or_else(|reason| here.fail(format!("output {}: {reason}", tensor_name(&out))))?;
        match code {
            FULLY_CONNECTED => self.fully_connected(&here, &input, &out, width)?,
            RESHAPE => self.reshape(&here, &input, &out, width)?,
            SOFTMAX => self.softmax(&here, &input, &out, last, width)?,
            QUANTIZE => self.quantize(&here, &input, &out, width)?,
            _ => self.dequantize(&here, &input, &out, width)?,
        }
        self.current = output;
        self.features = width;
        Ok(())
    }

    /// The operator's builtin code (TFLite's rule: the larger of the two code fields) and name.
    fn code(&self, op: &Operator<'_>) -> (i32, String) {
        let index = op.opcode_index().unwrap_or(0) as usize;
        let Some(code) = self
            .graph
            .model
            .operator_codes()
            .and_then(|codes| at(&codes, index))
        else {
            return (-1, format!("operator code {index}, which does not exist"));
        };
        let builtin = code
            .builtin_code()
            .unwrap_or(0)
            .max(i32::from(code.deprecated_builtin_code().unwrap_or(0)));
        if builtin == CUSTOM {
            return (
                builtin,
                format!("CUSTOM {:?}", code.custom_code().unwrap_or("")),
            );
        }
        let name = usize::try_from(builtin)
            .ok()
            .and_then(|b| OPERATOR_NAMES.get(b))
            .map_or_else(|| format!("BuiltinOperator {builtin}"), |n| (*n).to_owned());
        (builtin, name)
    }

    /// The int8 chain's check of `tensor`, read as the chain's current value.
    fn check_chain_quant(
        &self,
        here: &At<'_, '_>,
        tensor: &Tensor<'_>,
    ) -> Result<Quant, TfliteError> {
        let quant = activation_quant(tensor)
            .or_else(|reason| here.fail(format!("tensor {}: {reason}", tensor_name(tensor))))?;
        match self.quant {
            Some(want) if want == quant && want.scale.to_bits() == quant.scale.to_bits() => {
                Ok(quant)
            }
            Some(want) => here.fail(format!(
                "input tensor {} has quantization (scale {:e}, zero point {}), but the previous \
                 operation's output has (scale {:e}, zero point {}): the quantizations must chain",
                tensor_name(tensor),
                quant.scale,
                quant.zero_point,
                want.scale,
                want.zero_point
            )),
            None => here.fail("an int8 tensor in a float chain"),
        }
    }

    fn fully_connected(
        &mut self,
        here: &At<'_, 'a>,
        input: &Tensor<'a>,
        out: &Tensor<'a>,
        outputs: usize,
    ) -> Result<(), TfliteError> {
        let options = here.op.fully_connected_options();
        let activation = options
            .and_then(|o| o.fused_activation_function())
            .unwrap_or(ACT_NONE);
        let relu = match activation {
            ACT_NONE => false,
            ACT_RELU => true,
            other => {
                return here.fail(format!(
                    "fused activation {}; NONE and RELU are supported",
                    activation_name(other)
                ));
            }
        };
        if options.and_then(|o| o.weights_format()).unwrap_or(0) != 0 {
            return here.fail("a shuffled weight format; DEFAULT is supported");
        }
        let bias_type = options.and_then(|o| o.quantized_bias_type()).unwrap_or(0);
        if bias_type != 0 && bias_type != INT32 {
            return here.fail(format!(
                "quantized bias type {}; INT32 is supported",
                type_name(bias_type)
            ));
        }
        let inputs = self.features;
        let weight = self.constant(here, 1, "weight")?;
        let shape = dims(&weight);
        if shape != [outputs, inputs] {
            return here.fail(format!(
                "weight {} has shape {shape:?}; [{outputs}, {inputs}] ([out, in]) is needed for \
                 {inputs} inputs and {outputs} outputs",
                tensor_name(&weight)
            ));
        }
        let bias = match here.inputs.get(2) {
            None | Some(-1) => None,
            Some(_) => Some(self.constant(here, 2, "bias")?),
        };
        if let Some(bias) = &bias
            && dims(bias).iter().try_fold(1usize, |n, &d| n.checked_mul(d)) != Some(outputs)
        {
            return here.fail(format!(
                "bias {} has shape {:?} for {outputs} outputs",
                tensor_name(bias),
                dims(bias)
            ));
        }
        let types = [input, &weight, out].map(|t| t.tensor_type().unwrap_or(FLOAT32));
        let bias_type = bias.as_ref().map(|b| b.tensor_type().unwrap_or(FLOAT32));
        let what = match (types, bias_type) {
            ([FLOAT32, FLOAT32, FLOAT32], None | Some(FLOAT32)) => {
                self.float_dense(here, &weight, bias.as_ref(), inputs, outputs, relu)?
            }
            ([INT8, INT8, INT8], None | Some(INT32)) => {
                self.int8_dense(here, [input, &weight, out], bias.as_ref(), outputs, relu)?
            }
            _ => {
                return here.fail(format!(
                    "tensor types input {}, weight {}, bias {}, output {}: FLOAT32 throughout, \
                     or INT8 with an INT32 bias, is supported (hybrid weights-only \
                     quantization is not)",
                    type_name(types[0]),
                    type_name(types[1]),
                    bias_type.map_or("none", type_name),
                    type_name(types[2])
                ));
            }
        };
        let fused = if relu { ", fused ReLU" } else { "" };
        self.line(here, format!("{what}, weight [out, in] used as is{fused}"));
        Ok(())
    }

    fn float_dense(
        &mut self,
        here: &At<'_, 'a>,
        weight: &Tensor<'a>,
        bias: Option<&Tensor<'a>>,
        inputs: usize,
        outputs: usize,
        relu: bool,
    ) -> Result<String, TfliteError> {
        if !self.int8.is_empty() {
            return here.fail("a float32 layer after int8 ones");
        }
        let weights = self.values_f32(here, weight, inputs.saturating_mul(outputs))?;
        let bias = match bias {
            Some(b) => self.values_f32(here, b, outputs)?,
            None => vec![0.0; outputs],
        };
        let node = format!("operator {}", here.index);
        self.steps.push(Step {
            node: node.clone(),
            op_type: here.name.clone(),
            op: Op::Dense {
                inputs,
                outputs,
                weights,
                bias,
            },
        });
        if relu {
            self.steps.push(Step {
                node,
                op_type: here.name.clone(),
                op: Op::Relu,
            });
        }
        Ok(format!("dense {inputs} → {outputs}"))
    }

    fn int8_dense(
        &mut self,
        here: &At<'_, 'a>,
        [input, weight, out]: [&Tensor<'a>; 3],
        bias: Option<&Tensor<'a>>,
        outputs: usize,
        relu: bool,
    ) -> Result<String, TfliteError> {
        let inputs = self.features;
        let input_quant = self.check_chain_quant(here, input)?;
        let output_quant = activation_quant(out)
            .or_else(|reason| here.fail(format!("output {}: {reason}", tensor_name(out))))?;
        let weight_scale = self.weight_scales(here, weight, outputs)?;
        let weights: Vec<i8> = self
            .data(here, weight, inputs.saturating_mul(outputs), 1)?
            .iter()
            .map(|&b| b as i8)
            .collect();
        let bias_values = match bias {
            Some(b) => {
                if quant_of(b)
                    .is_some_and(|(_, zero_points, _)| zero_points.iter().any(|&z| z != 0))
                {
                    return here.fail(format!("bias {} has a non-zero zero point", tensor_name(b)));
                }
                self.data(here, b, outputs, 4)?
                    .chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            }
            None => vec![0; outputs],
        };
        let scales = if weight_scale.len() == 1 {
            "one per-tensor weight scale".to_owned()
        } else {
            format!("{outputs} per-channel weight scales")
        };
        let weight_scale = if weight_scale.len() == 1 {
            vec![weight_scale[0]; outputs]
        } else {
            weight_scale
        };
        self.int8.push(Int8Dense {
            inputs,
            outputs,
            activation: if relu {
                Activation::Relu
            } else {
                Activation::None
            },
            input: input_quant,
            output: output_quant,
            weights,
            bias: bias_values,
            weight_scale,
        });
        self.quant = Some(output_quant);
        Ok(format!(
            "int8 dense {inputs} → {outputs}, {scales}, input (scale {:e}, zero point {}) → \
             output (scale {:e}, zero point {})",
            input_quant.scale, input_quant.zero_point, output_quant.scale, output_quant.zero_point
        ))
    }

    /// The weight scales of an int8 weight: one, or one per output row; zero points 0.
    fn weight_scales(
        &self,
        here: &At<'_, '_>,
        weight: &Tensor<'_>,
        outputs: usize,
    ) -> Result<Vec<f32>, TfliteError> {
        let name = tensor_name(weight);
        let Some((scales, zero_points, dimension)) = quant_of(weight) else {
            return here.fail(format!("int8 weight {name} has no quantization"));
        };
        if zero_points.iter().any(|&z| z != 0) {
            return here.fail(format!(
                "weight {name} has a non-zero zero point: int8 weights must be symmetric"
            ));
        }
        let per_row = scales.len() == outputs && outputs > 1;
        if !(scales.len() == 1 || per_row && dimension == 0)
            || !(zero_points.len() == scales.len() || zero_points.len() == 1)
        {
            return here.fail(format!(
                "weight {name} has {} scales along dimension {dimension}; one, or one per \
                 output row (dimension 0), is supported",
                scales.len()
            ));
        }
        if let Some(s) = scales.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
            return here.fail(format!(
                "weight {name} has scale {s}; a positive finite one is needed"
            ));
        }
        Ok(scales)
    }

    fn reshape(
        &mut self,
        here: &At<'_, 'a>,
        input: &Tensor<'a>,
        out: &Tensor<'a>,
        width: usize,
    ) -> Result<(), TfliteError> {
        if width != self.features {
            return here.fail(format!(
                "reshapes {} values into a row of {width}",
                self.features
            ));
        }
        if here.inputs.len() > 1 && here.inputs[1] != -1 {
            self.constant(here, 1, "shape")?;
        }
        self.same_type(here, input, out)?;
        if self.quant.is_some() {
            self.check_chain_quant(here, input)?;
            self.check_chain_quant(here, out)?;
        }
        self.line(here, format!("one row of {width}, nothing to compute"));
        Ok(())
    }

    fn softmax(
        &mut self,
        here: &At<'_, 'a>,
        input: &Tensor<'a>,
        out: &Tensor<'a>,
        last: bool,
        width: usize,
    ) -> Result<(), TfliteError> {
        let dequantize_next = here.index + 2 == self.graph.operators.len()
            && at(&self.graph.operators, here.index + 1)
                .is_some_and(|next| self.code(&next).0 == DEQUANTIZE);
        if !(last || dequantize_next) {
            return here.fail("SOFTMAX is supported only as the last operation");
        }
        let beta = here.op.softmax_options().and_then(|o| o.beta());
        if beta != Some(1.0) {
            return here.fail(format!("softmax with beta {beta:?}; 1.0 is supported"));
        }
        if width != self.features {
            return here.fail(format!("{} inputs but {width} outputs", self.features));
        }
        self.same_type(here, input, out)?;
        if self.quant.is_none() {
            self.steps.push(Step {
                node: format!("operator {}", here.index),
                op_type: here.name.clone(),
                op: Op::Softmax,
            });
            self.line(here, "softmax of the last layer".into());
            return Ok(());
        }
        self.check_chain_quant(here, input)?;
        let q = activation_quant(out)
            .or_else(|reason| here.fail(format!("output {}: {reason}", tensor_name(out))))?;
        if q.scale != 1.0 / 256.0 || q.zero_point != -128 {
            return here.fail(format!(
                "int8 softmax output quantization (scale {:e}, zero point {}); TFLite's \
                 (1/256, −128) is expected",
                q.scale, q.zero_point
            ));
        }
        match self.int8.last_mut() {
            Some(layer) if layer.activation == Activation::None => {
                layer.activation = Activation::Softmax;
            }
            _ => {
                return here
                    .fail("a SOFTMAX must follow the last FULLY_CONNECTED without an activation");
            }
        }
        self.quant = Some(q);
        self.line(
            here,
            "the last layer's activation tag Softmax; not computed in int8: the model's \
             outputs are the last FULLY_CONNECTED's int8 logits, dequantized, and a reader \
             applies softmax to them in f32"
                .into(),
        );
        Ok(())
    }

    fn quantize(
        &mut self,
        here: &At<'_, 'a>,
        input: &Tensor<'a>,
        out: &Tensor<'a>,
        width: usize,
    ) -> Result<(), TfliteError> {
        self.check_conversion(here, [input, out], width, [FLOAT32, INT8])?;
        let quant = self
            .pixel_contract(out)
            .or_else(|reason| here.fail(reason))?;
        self.quant = Some(quant);
        self.line(
            here,
            format!(
                "the int8 input: the device feeds pixels p as p − 128, TFLite's quantization of \
                 p · {:e}",
                quant.scale
            ),
        );
        Ok(())
    }

    fn dequantize(
        &mut self,
        here: &At<'_, 'a>,
        input: &Tensor<'a>,
        out: &Tensor<'a>,
        width: usize,
    ) -> Result<(), TfliteError> {
        self.check_conversion(here, [input, out], width, [INT8, FLOAT32])?;
        self.check_chain_quant(here, input)?;
        self.line(
            here,
            "the outputs in f32: the device dequantizes the last layer's int8 outputs as \
             (q − zero point) · scale"
                .into(),
        );
        Ok(())
    }

    /// A `QUANTIZE` or `DEQUANTIZE` from type `want[0]` to `want[1]`, keeping the width.
    fn check_conversion(
        &self,
        here: &At<'_, '_>,
        tensors: [&Tensor<'_>; 2],
        width: usize,
        want: [i8; 2],
    ) -> Result<(), TfliteError> {
        let types = tensors.map(|t| t.tensor_type().unwrap_or(FLOAT32));
        if types != want || width != self.features {
            return here.fail(format!(
                "{} from {} ({} values) to {} ({width}); {} to {} of the same width is supported",
                here.name,
                type_name(types[0]),
                self.features,
                type_name(types[1]),
                type_name(want[0]),
                type_name(want[1])
            ));
        }
        Ok(())
    }

    fn same_type(
        &self,
        here: &At<'_, '_>,
        input: &Tensor<'_>,
        out: &Tensor<'_>,
    ) -> Result<(), TfliteError> {
        let want = if self.quant.is_some() { INT8 } else { FLOAT32 };
        let types = [input, out].map(|t| t.tensor_type().unwrap_or(FLOAT32));
        if types != [want, want] {
            return here.fail(format!(
                "input {} and output {}; {} is expected here",
                type_name(types[0]),
                type_name(types[1]),
                type_name(want)
            ));
        }
        Ok(())
    }

    /// Input `slot` of the operator, which must be a constant tensor (data in a buffer, written
    /// by no operator).
    fn constant(
        &self,
        here: &At<'_, '_>,
        slot: usize,
        what: &str,
    ) -> Result<Tensor<'a>, TfliteError> {
        let index = here.inputs.get(slot).copied().unwrap_or(-1);
        let Some(t) = usize::try_from(index)
            .ok()
            .filter(|&t| t < self.graph.tensors.len())
        else {
            return here.fail(format!("the {what} (input {slot}) is missing"));
        };
        let tensor = self.graph.tensor(t);
        if self.graph.produced[t] || tensor.is_variable().unwrap_or(false) {
            return here.fail(format!(
                "the {what} {} is computed or variable, not a constant: weights must be constants",
                tensor_name(&tensor)
            ));
        }
        if tensor.sparsity().is_some() {
            return here.fail(format!("the {what} {} is sparse", tensor_name(&tensor)));
        }
        if let Err(reason) = static_shape(&tensor) {
            return here.fail(format!("the {what} {}: {reason}", tensor_name(&tensor)));
        }
        Ok(tensor)
    }

    /// The bytes of a constant `tensor`, which must be exactly `count` values of `size` bytes
    /// (a count that overflows saturates, and no buffer is that long).
    fn data(
        &self,
        here: &At<'_, '_>,
        tensor: &Tensor<'a>,
        count: usize,
        size: usize,
    ) -> Result<&'a [u8], TfliteError> {
        let len = count.saturating_mul(size);
        let name = tensor_name(tensor);
        let index = tensor.buffer().unwrap_or(0) as usize;
        let buffer = self
            .graph
            .model
            .buffers()
            .and_then(|b| at(&b, index))
            .filter(|_| index > 0);
        let Some(buffer) = buffer else {
            return here.fail(format!(
                "{name} has no data (buffer {index}): weights must be constants"
            ));
        };
        if buffer.offset().unwrap_or(0) > 1 {
            return here.fail(format!(
                "{name} is stored outside the flatbuffer (a model over 2 GB); not supported"
            ));
        }
        let bytes = buffer.data().map_or(&[][..], |d| d.bytes());
        if bytes.len() != len {
            return here.fail(format!(
                "{name} holds {} bytes; {len} are needed for its shape {:?}",
                bytes.len(),
                dims(tensor)
            ));
        }
        Ok(bytes)
    }

    fn values_f32(
        &self,
        here: &At<'_, '_>,
        tensor: &Tensor<'a>,
        count: usize,
    ) -> Result<Vec<f32>, TfliteError> {
        let values: Vec<f32> = self
            .data(here, tensor, count, 4)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return here.fail(format!(
                "{} value {i} is {} (not finite)",
                tensor_name(tensor),
                values[i]
            ));
        }
        Ok(values)
    }

    fn line(&mut self, here: &At<'_, '_>, what: String) {
        self.mapping
            .push(format!("operator {} ({}): {what}", here.index, here.name));
    }

    fn finish(self, version: u32, description: Option<&str>) -> Result<TfliteGraph, TfliteError> {
        if self.current != self.graph.output {
            return Err(TfliteError::Model(format!(
                "the subgraph's output {} is not the end of the chain ({})",
                tensor_name(&self.graph.tensor(self.graph.output)),
                tensor_name(&self.graph.tensor(self.current))
            )));
        }
        let body = if self.quant.is_some() {
            if self.int8.is_empty() {
                return Err(TfliteError::Model("no FULLY_CONNECTED operator".into()));
            }
            Body::Int8(self.int8)
        } else {
            Body::Float(self.steps)
        };
        let description: String = description.unwrap_or("").chars().take(80).collect();
        Ok(TfliteGraph {
            input_features: self.input_features,
            body,
            mapping: self.mapping,
            producer: format!("TFLite schema {version} ({description:?})"),
        })
    }
}
