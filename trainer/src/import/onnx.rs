//! ONNX graphs of dense networks as a [`Step`] chain.
//!
//! The file is decoded with prost from the subset of `onnx.proto` declared below (protobuf skips
//! the fields a reader does not declare, so the subset reads any ONNX file). The graph must be a
//! single chain from its one input to its one output: each node reads the previous node's output
//! (plus constants), and nothing else reads it. The operators mapped:
//!
//! | ONNX | becomes |
//! |---|---|
//! | `Gemm` (`transA = 0`; `alpha`, `beta`, `transB` honoured) | a dense layer |
//! | `MatMul` with a constant `[in, out]` matrix, then optionally `Add` of a constant `[out]` | a dense layer |
//! | `Relu` | the layer's activation |
//! | `BatchNormalization` (eval mode; ε from the node) | folded, see [`super::chain`] |
//! | `Dropout`, `Identity`, `Flatten`, `Reshape` to one row | nothing (checked to keep the width) |
//! | `Softmax` over the features, last | the last layer's softmax |
//! | `Constant` | a constant other nodes may read |
//!
//! The weight layout: `Gemm` with `transB = 1` (what PyTorch's `nn.Linear` exports) already holds
//! `W` as `[out, in]`, the device's layout, and is used as is; `transB = 0` and `MatMul` hold
//! `[in, out]` (Keras's and burn's layout) and are transposed. Anything else is refused with the
//! node's name, its operator and the reason.

use std::collections::HashMap;

use prost::Message;

use super::chain::{Op, Step};

/// Why an ONNX file cannot be imported.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OnnxError {
    /// Not a protobuf ModelProto.
    #[error("not an ONNX model (protobuf decoding failed: {0})")]
    Decode(String),
    /// The model has no graph.
    #[error("the ONNX model has no graph")]
    NoGraph,
    /// The graph's inputs or outputs are not one tensor each.
    #[error("{0}")]
    Interface(String),
    /// A node that cannot be mapped, with the reason.
    #[error("node {node:?} ({op_type}): {reason}")]
    Node {
        /// Node name (or its first output's name).
        node: String,
        /// Its operator.
        op_type: String,
        /// Why.
        reason: String,
    },
}

/// The chain read from a graph, with what the graph says about its input.
#[derive(Debug, Clone, PartialEq)]
pub struct OnnxChain {
    /// Features per input row (the product of the input's non-batch dimensions).
    pub input_features: usize,
    /// The input's dimensions as the file states them (`None`: symbolic).
    pub input_dims: Vec<Option<u64>>,
    /// The operations, in order.
    pub steps: Vec<Step>,
    /// One line per node: what it became.
    pub mapping: Vec<String>,
    /// `producer_name producer_version` and the opset.
    pub producer: String,
}

/// Reads `bytes` as an ONNX model of a dense chain.
///
/// # Errors
/// [`OnnxError`] naming the node and the reason.
pub fn read_onnx(bytes: &[u8]) -> Result<OnnxChain, OnnxError> {
    let model = proto::Model::decode(bytes).map_err(|e| OnnxError::Decode(e.to_string()))?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(0, |o| o.version);
    let graph = model.graph.as_ref().ok_or(OnnxError::NoGraph)?;
    // Constant nodes become constants before the walk: ONNX orders nodes topologically, so a
    // Constant precedes its readers.
    let from_nodes: Vec<proto::Tensor> = graph
        .node
        .iter()
        .filter(|n| n.op_type == "Constant")
        .map(constant_value)
        .collect::<Result<_, _>>()?;
    let mut walk = Walk {
        constants: graph
            .initializer
            .iter()
            .chain(&from_nodes)
            .map(|t| (t.name.clone(), t))
            .collect(),
        steps: Vec::new(),
        mapping: Vec::new(),
        opset,
        pending_matmul: false,
    };
    let (input, input_dims) = graph_input(graph, &walk.constants)?;
    let input_features = features_of(&input_dims).ok_or_else(|| {
        OnnxError::Interface(format!(
            "input {input:?}: only the first (batch) dimension may be symbolic, found {input_dims:?}"
        ))
    })?;
    let mut current = input.clone();
    let mut features = input_features;
    for node in graph.node.iter().filter(|n| n.op_type != "Constant") {
        // The legacy exporter passes shared weights through Identity: a constant's alias.
        if let (Some(source), Some(alias)) = (node.input.first(), node.output.first())
            && node.op_type == "Identity"
            && walk.constants.contains_key(source)
        {
            let tensor = walk.constants[source];
            walk.constants.insert(alias.clone(), tensor);
            continue;
        }
        features = walk.node(node, &current, features)?;
        current = node.output.first().cloned().unwrap_or_default();
    }
    match graph.output.as_slice() {
        [output] if output.name == current => {}
        [output] => {
            return Err(OnnxError::Interface(format!(
                "the graph's output {:?} is not the end of the chain ({current:?})",
                output.name
            )));
        }
        outputs => {
            return Err(OnnxError::Interface(format!(
                "the graph has {} outputs; one is supported",
                outputs.len()
            )));
        }
    }
    Ok(OnnxChain {
        input_features,
        input_dims,
        steps: walk.steps,
        mapping: walk.mapping,
        producer: format!(
            "{} {} (opset {opset})",
            model.producer_name, model.producer_version
        ),
    })
}

/// The graph's one real input (initializers listed as inputs by old exporters are skipped).
fn graph_input(
    graph: &proto::Graph,
    constants: &HashMap<String, &proto::Tensor>,
) -> Result<(String, Vec<Option<u64>>), OnnxError> {
    let inputs: Vec<&proto::ValueInfo> = graph
        .input
        .iter()
        .filter(|i| !constants.contains_key(&i.name))
        .collect();
    let [input] = inputs.as_slice() else {
        return Err(OnnxError::Interface(format!(
            "the graph has {} inputs that are not constants; one is supported",
            inputs.len()
        )));
    };
    let tensor = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .ok_or_else(|| OnnxError::Interface(format!("input {:?} is not a tensor", input.name)))?;
    if tensor.elem_type != proto::FLOAT {
        return Err(OnnxError::Interface(format!(
            "input {:?} has element type {}; float32 (1) is supported",
            input.name, tensor.elem_type
        )));
    }
    let dims = tensor
        .shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| u64::try_from(d.dim_value).ok().filter(|&v| v > 0))
                .collect()
        })
        .unwrap_or_default();
    Ok((input.name.clone(), dims))
}

/// Product of the non-batch dimensions, if they are all known (a rank-1 input has no batch).
fn features_of(dims: &[Option<u64>]) -> Option<usize> {
    let rest = if dims.len() == 1 {
        dims
    } else {
        dims.get(1..)?
    };
    rest.iter().try_fold(1usize, |acc, d| {
        usize::try_from((*d)?).ok().and_then(|d| acc.checked_mul(d))
    })
}

fn constant_value(node: &proto::Node) -> Result<proto::Tensor, OnnxError> {
    let name = node.output.first().cloned().unwrap_or_default();
    match node.attribute.iter().find(|a| a.name == "value") {
        Some(proto::Attribute { t: Some(t), .. }) => {
            let mut t = t.clone();
            t.name = name;
            Ok(t)
        }
        _ => Err(node_error(
            node,
            "only a Constant with a tensor `value` is supported".into(),
        )),
    }
}

struct Walk<'g> {
    constants: HashMap<String, &'g proto::Tensor>,
    steps: Vec<Step>,
    mapping: Vec<String>,
    opset: i64,
    /// The last step is a MatMul's dense layer that has not received its bias yet.
    pending_matmul: bool,
}

impl Walk<'_> {
    /// Maps `node`, which must read `current` (`features` wide); returns its output's width.
    fn node(
        &mut self,
        node: &proto::Node,
        current: &str,
        features: usize,
    ) -> Result<usize, OnnxError> {
        let fail = |reason: String| Err(node_error(node, reason));
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            return fail(format!(
                "operator domain {:?} is not supported",
                node.domain
            ));
        }
        match node.input.first() {
            Some(first) if first == current => {}
            Some(first) => {
                return fail(format!(
                    "reads {first:?}, not the previous operation's output {current:?}: \
                     only a single chain of operations is supported (no branches)"
                ));
            }
            None => return fail("has no input".into()),
        }
        for extra in node.input.iter().skip(1).filter(|n| !n.is_empty()) {
            if !self.constants.contains_key(extra) {
                return fail(format!(
                    "input {extra:?} is not a constant (initializer or Constant node): \
                     weights must be constants"
                ));
            }
        }
        let was_matmul = std::mem::take(&mut self.pending_matmul);
        match node.op_type.as_str() {
            "Gemm" => self.gemm(node, features),
            "MatMul" => self.matmul(node, features),
            "Add" if was_matmul => self.add_bias(node, features),
            "Add" => fail("Add is supported only as the bias right after a MatMul".into()),
            "Relu" => {
                self.push(node, Op::Relu, "ReLU".into());
                Ok(features)
            }
            "BatchNormalization" => self.batch_norm(node, features),
            "Softmax" => {
                let default_axis = if self.opset >= 13 { -1 } else { 1 };
                let axis = int_attr(node, "axis").unwrap_or(default_axis);
                if axis != -1 && axis != 1 {
                    return fail(format!(
                        "softmax over axis {axis}; only the features (1 or -1)"
                    ));
                }
                self.push(node, Op::Softmax, "softmax of the last layer".into());
                Ok(features)
            }
            "Dropout" | "Identity" => {
                if node.op_type == "Dropout" && node.input.get(2).is_some_and(|n| !n.is_empty()) {
                    let training = self.tensor_i64(node, 2)?;
                    if training.first().is_some_and(|&t| t != 0) {
                        return fail("training_mode = true; export the model in eval mode".into());
                    }
                }
                self.mapping.push(format!(
                    "{} ({}): nothing at inference",
                    name_of(node),
                    node.op_type
                ));
                Ok(features)
            }
            "Flatten" => {
                let axis = int_attr(node, "axis").unwrap_or(1);
                if axis != 1 {
                    return fail(format!(
                        "Flatten with axis {axis}; only axis 1 is supported"
                    ));
                }
                self.mapping.push(format!(
                    "{} (Flatten): one row of {features}",
                    name_of(node)
                ));
                Ok(features)
            }
            "Reshape" => {
                let shape = self.tensor_i64(node, 1)?;
                let row = match shape.as_slice() {
                    [n] | [1 | -1, n] => *n,
                    _ => return fail(format!("Reshape to {shape:?}; only one row is supported")),
                };
                if row != -1 && usize::try_from(row).ok() != Some(features) {
                    return fail(format!(
                        "Reshape to {shape:?} of a row of {features} values"
                    ));
                }
                self.mapping.push(format!(
                    "{} (Reshape): one row of {features}",
                    name_of(node)
                ));
                Ok(features)
            }
            other => fail(format!("operator {other} is not supported")),
        }
    }

    fn push(&mut self, node: &proto::Node, op: Op, what: String) {
        self.mapping
            .push(format!("{} ({}): {what}", name_of(node), node.op_type));
        self.steps.push(Step {
            node: name_of(node),
            op_type: node.op_type.clone(),
            op,
        });
    }

    fn gemm(&mut self, node: &proto::Node, features: usize) -> Result<usize, OnnxError> {
        if int_attr(node, "transA").unwrap_or(0) != 0 {
            return Err(node_error(node, "transA = 1 is not supported".into()));
        }
        let trans_b = int_attr(node, "transB").unwrap_or(0) != 0;
        let alpha = float_attr(node, "alpha").unwrap_or(1.0);
        let beta = float_attr(node, "beta").unwrap_or(1.0);
        let (dims, mut weights) = self.tensor_f32(node, 1)?;
        let [rows, cols] = dims.as_slice() else {
            return Err(node_error(
                node,
                format!("B has shape {dims:?}; a matrix is needed"),
            ));
        };
        let (inputs, outputs) = if trans_b {
            (*cols, *rows)
        } else {
            (*rows, *cols)
        };
        if inputs != features {
            return Err(node_error(
                node,
                format!("B takes {inputs} inputs but the previous operation gives {features}"),
            ));
        }
        if !trans_b {
            weights = transpose(&weights, inputs, outputs);
        }
        if alpha != 1.0 {
            weights.iter_mut().for_each(|w| *w *= alpha);
        }
        let mut bias = vec![0.0; outputs];
        if node.input.get(2).is_some_and(|n| !n.is_empty()) {
            let (dims, c) = self.tensor_f32(node, 2)?;
            if c.len() != outputs || !(dims.len() == 1 || dims.first() == Some(&1)) {
                return Err(node_error(
                    node,
                    format!("C has shape {dims:?}; [{outputs}] or [1, {outputs}] is supported"),
                ));
            }
            bias = c
                .iter()
                .map(|&c| if beta == 1.0 { c } else { c * beta })
                .collect();
        }
        let layout = if trans_b {
            "[out, in] (transB = 1), used as is"
        } else {
            "[in, out] (transB = 0), transposed"
        };
        self.push(
            node,
            Op::Dense {
                inputs,
                outputs,
                weights,
                bias,
            },
            format!("dense {inputs} → {outputs}, weight {layout}"),
        );
        Ok(outputs)
    }

    fn matmul(&mut self, node: &proto::Node, features: usize) -> Result<usize, OnnxError> {
        let (dims, weights) = self.tensor_f32(node, 1)?;
        let [inputs, outputs] = dims.as_slice() else {
            return Err(node_error(
                node,
                format!("B has shape {dims:?}; a matrix is needed"),
            ));
        };
        let (inputs, outputs) = (*inputs, *outputs);
        if inputs != features {
            return Err(node_error(
                node,
                format!("B takes {inputs} inputs but the previous operation gives {features}"),
            ));
        }
        self.push(
            node,
            Op::Dense {
                inputs,
                outputs,
                weights: transpose(&weights, inputs, outputs),
                bias: vec![0.0; outputs],
            },
            format!("dense {inputs} → {outputs}, weight [in, out], transposed"),
        );
        self.pending_matmul = true;
        Ok(outputs)
    }

    fn add_bias(&mut self, node: &proto::Node, features: usize) -> Result<usize, OnnxError> {
        let (dims, values) = self.tensor_f32(node, 1)?;
        if values.len() != features {
            return Err(node_error(
                node,
                format!("adds a constant of shape {dims:?} to {features} outputs"),
            ));
        }
        if let Some(Step {
            op: Op::Dense { bias, .. },
            ..
        }) = self.steps.last_mut()
        {
            bias.iter_mut().zip(&values).for_each(|(b, v)| *b += v);
        }
        self.mapping.push(format!(
            "{} (Add): the bias of the MatMul before it",
            name_of(node)
        ));
        Ok(features)
    }

    fn batch_norm(&mut self, node: &proto::Node, features: usize) -> Result<usize, OnnxError> {
        if int_attr(node, "training_mode").unwrap_or(0) != 0 || node.output.len() > 1 {
            return Err(node_error(
                node,
                "training mode; export the model in eval mode".into(),
            ));
        }
        let epsilon = float_attr(node, "epsilon").unwrap_or(1e-5);
        let mut arrays = Vec::with_capacity(4);
        for index in 1..=4 {
            let (_, values) = self.tensor_f32(node, index)?;
            if values.len() != features {
                return Err(node_error(
                    node,
                    format!(
                        "input {index} has {} values for {features} features",
                        values.len()
                    ),
                ));
            }
            arrays.push(values);
        }
        let [gamma, beta, mean, var] = <[Vec<f32>; 4]>::try_from(arrays).expect("four arrays");
        let placement = if matches!(
            self.steps.last(),
            Some(Step {
                op: Op::Dense { .. } | Op::BatchNorm { .. },
                ..
            })
        ) {
            "folded backward into the dense layer before it"
        } else {
            "folded forward into the next dense layer"
        };
        self.push(
            node,
            Op::BatchNorm {
                gamma,
                beta,
                mean,
                var,
                epsilon: f64::from(epsilon),
            },
            format!("batch norm over {features} (ε = {epsilon:e}), {placement}"),
        );
        Ok(features)
    }

    /// Input `index` of `node` as f32 values with its dimensions.
    fn tensor_f32(
        &self,
        node: &proto::Node,
        index: usize,
    ) -> Result<(Vec<usize>, Vec<f32>), OnnxError> {
        let tensor = self.constant(node, index)?;
        let dims = tensor_dims(node, tensor)?;
        let count = dims.iter().product::<usize>();
        let values: Vec<f32> = match tensor.data_type {
            proto::FLOAT if !tensor.raw_data.is_empty() => tensor
                .raw_data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            proto::FLOAT => tensor.float_data.clone(),
            other => {
                return Err(node_error(
                    node,
                    format!(
                        "{:?} has element type {other}; float32 (1) is supported",
                        tensor.name
                    ),
                ));
            }
        };
        if values.len() != count
            || (!tensor.raw_data.is_empty() && tensor.raw_data.len() != 4 * count)
        {
            return Err(node_error(
                node,
                format!(
                    "{:?} holds {} values for dimensions {dims:?}",
                    tensor.name,
                    values.len()
                ),
            ));
        }
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(node_error(
                node,
                format!("{:?} value {i} is {} (not finite)", tensor.name, values[i]),
            ));
        }
        Ok((dims, values))
    }

    /// Input `index` of `node` as int64 values.
    fn tensor_i64(&self, node: &proto::Node, index: usize) -> Result<Vec<i64>, OnnxError> {
        let tensor = self.constant(node, index)?;
        let count = tensor_dims(node, tensor)?.iter().product::<usize>();
        let values: Vec<i64> = match tensor.data_type {
            proto::INT64 if !tensor.raw_data.is_empty() => tensor
                .raw_data
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().expect("8 bytes")))
                .collect(),
            proto::INT64 => tensor.int64_data.clone(),
            proto::BOOL if !tensor.raw_data.is_empty() => {
                tensor.raw_data.iter().map(|&b| i64::from(b)).collect()
            }
            proto::BOOL => tensor.int32_data.iter().map(|&b| i64::from(b)).collect(),
            other => {
                return Err(node_error(
                    node,
                    format!(
                        "{:?} has element type {other}; int64 is needed",
                        tensor.name
                    ),
                ));
            }
        };
        if values.len() != count {
            return Err(node_error(
                node,
                format!(
                    "{:?} holds {} values, expected {count}",
                    tensor.name,
                    values.len()
                ),
            ));
        }
        Ok(values)
    }

    fn constant(&self, node: &proto::Node, index: usize) -> Result<&proto::Tensor, OnnxError> {
        let name = node
            .input
            .get(index)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| node_error(node, format!("input {index} is missing")))?;
        let tensor = self.constants.get(name).copied().ok_or_else(|| {
            node_error(
                node,
                format!("input {name:?} is not a constant: weights must be constants"),
            )
        })?;
        if tensor.data_location == proto::EXTERNAL || !tensor.external_data.is_empty() {
            return Err(node_error(
                node,
                format!(
                    "{name:?} is stored in an external data file; export one self-contained \
                     file (PyTorch: torch.onnx.export(..., external_data=False))"
                ),
            ));
        }
        Ok(tensor)
    }
}

fn tensor_dims(node: &proto::Node, tensor: &proto::Tensor) -> Result<Vec<usize>, OnnxError> {
    let dims: Option<Vec<usize>> = tensor
        .dims
        .iter()
        .map(|&d| usize::try_from(d).ok())
        .collect();
    let dims = dims
        .ok_or_else(|| node_error(node, format!("{:?} has a negative dimension", tensor.name)))?;
    if dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .is_none()
    {
        return Err(node_error(
            node,
            format!("{:?} dimensions {dims:?} overflow", tensor.name),
        ));
    }
    Ok(dims)
}

fn transpose(values: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    for (r, row) in values.chunks_exact(cols).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            out[c * rows + r] = v;
        }
    }
    out
}

fn name_of(node: &proto::Node) -> String {
    if node.name.is_empty() {
        node.output.first().cloned().unwrap_or_default()
    } else {
        node.name.clone()
    }
}

fn node_error(node: &proto::Node, reason: String) -> OnnxError {
    OnnxError::Node {
        node: name_of(node),
        op_type: node.op_type.clone(),
        reason,
    }
}

fn int_attr(node: &proto::Node, name: &str) -> Option<i64> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.i)
}

fn float_attr(node: &proto::Node, name: &str) -> Option<f32> {
    node.attribute.iter().find(|a| a.name == name).map(|a| a.f)
}

/// The part of `onnx.proto` (onnx 1.x, field numbers as published) a dense chain needs.
mod proto {
    /// `TensorProto.DataType.FLOAT`.
    pub const FLOAT: i32 = 1;
    /// `TensorProto.DataType.INT64`.
    pub const INT64: i32 = 7;
    /// `TensorProto.DataType.BOOL`.
    pub const BOOL: i32 = 9;
    /// `TensorProto.DataLocation.EXTERNAL`.
    pub const EXTERNAL: i32 = 1;

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Model {
        #[prost(string, tag = "2")]
        pub producer_name: String,
        #[prost(string, tag = "3")]
        pub producer_version: String,
        #[prost(message, optional, tag = "7")]
        pub graph: Option<Graph>,
        #[prost(message, repeated, tag = "8")]
        pub opset_import: Vec<OperatorSetId>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct OperatorSetId {
        #[prost(string, tag = "1")]
        pub domain: String,
        #[prost(int64, tag = "2")]
        pub version: i64,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Graph {
        #[prost(message, repeated, tag = "1")]
        pub node: Vec<Node>,
        #[prost(message, repeated, tag = "5")]
        pub initializer: Vec<Tensor>,
        #[prost(message, repeated, tag = "11")]
        pub input: Vec<ValueInfo>,
        #[prost(message, repeated, tag = "12")]
        pub output: Vec<ValueInfo>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Node {
        #[prost(string, repeated, tag = "1")]
        pub input: Vec<String>,
        #[prost(string, repeated, tag = "2")]
        pub output: Vec<String>,
        #[prost(string, tag = "3")]
        pub name: String,
        #[prost(string, tag = "4")]
        pub op_type: String,
        #[prost(message, repeated, tag = "5")]
        pub attribute: Vec<Attribute>,
        #[prost(string, tag = "7")]
        pub domain: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Attribute {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(float, tag = "2")]
        pub f: f32,
        #[prost(int64, tag = "3")]
        pub i: i64,
        #[prost(message, optional, tag = "5")]
        pub t: Option<Tensor>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Tensor {
        #[prost(int64, repeated, tag = "1")]
        pub dims: Vec<i64>,
        #[prost(int32, tag = "2")]
        pub data_type: i32,
        #[prost(float, repeated, tag = "4")]
        pub float_data: Vec<f32>,
        #[prost(int32, repeated, tag = "5")]
        pub int32_data: Vec<i32>,
        #[prost(int64, repeated, tag = "7")]
        pub int64_data: Vec<i64>,
        #[prost(string, tag = "8")]
        pub name: String,
        #[prost(bytes = "vec", tag = "9")]
        pub raw_data: Vec<u8>,
        #[prost(message, repeated, tag = "13")]
        pub external_data: Vec<StringStringEntry>,
        #[prost(int32, tag = "14")]
        pub data_location: i32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StringStringEntry {
        #[prost(string, tag = "1")]
        pub key: String,
        #[prost(string, tag = "2")]
        pub value: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueInfo {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub r#type: Option<Type>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Type {
        #[prost(message, optional, tag = "1")]
        pub tensor_type: Option<TensorType>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TensorType {
        #[prost(int32, tag = "1")]
        pub elem_type: i32,
        #[prost(message, optional, tag = "2")]
        pub shape: Option<Shape>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Shape {
        #[prost(message, repeated, tag = "1")]
        pub dim: Vec<Dimension>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Dimension {
        #[prost(int64, tag = "1")]
        pub dim_value: i64,
        #[prost(string, tag = "2")]
        pub dim_param: String,
    }
}
