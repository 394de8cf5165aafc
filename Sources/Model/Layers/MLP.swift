/// A stack of `Linear` layers from a list of widths: ReLU between layers, `finalActivation` at the end.
///
/// The first layer's input may come in two parts (data and condition, see `Linear`), given as
/// `(pointer, width)` pairs whose widths sum to `widths[0]`. Activations of every layer are written to
/// caller-provided arrays (`outputs[i]` is `rows × widths[i+1]`) and are read again by `backward`.
public struct MLP: Sendable, Equatable {
    public let layers: [Linear]
    public var inputSize: Int { layers[0].inputs }
    public var outputSize: Int { layers[layers.count - 1].outputs }
    /// The widest layer output: the size of a backward scratch row.
    public var maxWidth: Int { layers.map(\.outputs).max()! }

    /// Layers named `name.0`, `name.1`, ….
    public init(_ name: String, widths: [Int], finalActivation: Activation, layout: inout ParameterLayout) {
        precondition(widths.count >= 2, "MLP needs at least an input and an output width")
        var layers: [Linear] = []
        for i in 0..<(widths.count - 1) {
            let activation: Activation = i == widths.count - 2 ? finalActivation : .relu
            layers.append(Linear("\(name).\(i)", inputs: widths[i], outputs: widths[i + 1], activation: activation,
                                 layout: &layout))
        }
        self.layers = layers
    }

    /// Forward pass; `second` is the optional second input part of the first layer.
    @inlinable
    public func forward(
        _ first: UnsafePointer<Float>, firstWidth: Int, second: UnsafePointer<Float>?, secondWidth: Int, rows: Int,
        outputs: [UnsafeMutablePointer<Float>], parameters: UnsafePointer<Float>
    ) {
        precondition(firstWidth + secondWidth == inputSize && outputs.count == layers.count)
        layers[0].forwardPart(first, width: firstWidth, firstRow: 0, rows: rows, output: outputs[0],
                              parameters: parameters, accumulate: false)
        if let second, secondWidth > 0 {
            layers[0].forwardPart(second, width: secondWidth, firstRow: firstWidth, rows: rows, output: outputs[0],
                                  parameters: parameters, accumulate: true)
        }
        layers[0].finishForward(outputs[0], rows: rows, parameters: parameters)
        for i in 1..<layers.count {
            layers[i].forward(outputs[i - 1], rows: rows, output: outputs[i], parameters: parameters)
        }
    }

    /// Backward pass. `outputGradient` (gradient w.r.t. the last layer's output, `rows × outputSize`) must be
    /// one of the two `scratch` buffers (each `rows × maxWidth`); both are clobbered. Parameter gradients are
    /// written (overwritten) into `gradients`. If `firstInputGradient` is given, the gradient w.r.t. the first input part
    /// (`rows × firstWidth`) is written there. The second part needs a gradient only when it is computed
    /// (the condition tower's features): `secondInputGradient` (`rows × secondWidth`) is then overwritten,
    /// or added to with `accumulateSecondInputGradient`. Sums over the rows follow `leaves` (`BatchLeaves`).
    /// `ready` hears each layer's bias once its gradient is written, then — after the layer's input
    /// gradient, the last read of its weights — its weights in bands of rows as the weight gradient is
    /// computed (`GradientsReady`). `sharing`, when given, computes the weight gradients, perhaps with the
    /// help of ranks that have finished their own backward (`WeightGradientSharing`).
    @inlinable
    public func backward(
        _ first: UnsafePointer<Float>, firstWidth: Int, second: UnsafePointer<Float>?, secondWidth: Int, leaves: BatchLeaves,
        outputs: [UnsafeMutablePointer<Float>], scratch: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>),
        outputGradientInFirstScratch: Bool = true,
        firstInputGradient: UnsafeMutablePointer<Float>?,
        secondInputGradient: UnsafeMutablePointer<Float>? = nil, accumulateSecondInputGradient: Bool = false,
        parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>, ready: GradientsReady? = nil,
        sharing: (any WeightGradientSharing)? = nil
    ) {
        let rows = leaves.rows
        var dy = outputGradientInFirstScratch ? scratch.0 : scratch.1
        var other = outputGradientInFirstScratch ? scratch.1 : scratch.0
        for i in stride(from: layers.count - 1, to: 0, by: -1) {
            let layer = layers[i]
            layer.backwardActivation(dy, output: outputs[i], leaves: leaves, gradients: gradients)
            ready?(layer.biasRange)
            layer.backwardInputPart(preActivationGradient: dy, width: layer.inputs, firstRow: 0, rows: rows,
                                    inputGradient: other, parameters: parameters)
            layer.backwardWeightsPart(outputs[i - 1], width: layer.inputs, firstRow: 0, leaves: leaves,
                                      preActivationGradient: dy, gradients: gradients, ready: ready, sharing: sharing)
            swap(&dy, &other)
        }
        // The first layer: both input gradients (the last reads of W) before the weight gradient.
        let layer = layers[0]
        layer.backwardActivation(dy, output: outputs[0], leaves: leaves, gradients: gradients)
        ready?(layer.biasRange)
        if let firstInputGradient {
            layer.backwardInputPart(preActivationGradient: dy, width: firstWidth, firstRow: 0, rows: rows,
                                    inputGradient: firstInputGradient, parameters: parameters)
        }
        if let secondInputGradient, secondWidth > 0 {
            layer.backwardInputPart(preActivationGradient: dy, width: secondWidth, firstRow: firstWidth, rows: rows,
                                    inputGradient: secondInputGradient, parameters: parameters,
                                    accumulate: accumulateSecondInputGradient)
        }
        // The second part's rows of W lie after the first's: handed on first, as backward goes from the end.
        if let second, secondWidth > 0 {
            layer.backwardWeightsPart(second, width: secondWidth, firstRow: firstWidth, leaves: leaves,
                                      preActivationGradient: dy, gradients: gradients, ready: ready, sharing: sharing)
        }
        layer.backwardWeightsPart(first, width: firstWidth, firstRow: 0, leaves: leaves, preActivationGradient: dy,
                                  gradients: gradients, ready: ready, sharing: sharing)
    }
}
