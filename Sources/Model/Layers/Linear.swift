/// A fully connected layer `Y = act(X·W + b)` whose parameters live in a `FlatBuffer`.
///
/// `W` is stored row-major `[inputs × outputs]` so that, with row-major batches,
/// forward is `gemm(X, W)`, the weight gradient `gemmTN(X, dY)` and the input gradient `gemmNT(dY, W)`.
/// The layer owns no memory: it holds the offsets of `W` and `b` in the model's parameter layout and is
/// handed the parameter/gradient buffers and the activation workspace on each call.
///
/// Inputs may come in *parts*: a layer fed `[Y, X]` (the CVAE's encoder) or `[z, X]` (its decoder)
/// multiplies each part with its own contiguous block of rows of `W` and accumulates — no concatenated
/// copy of the input is ever made. Use `forward`/`backward` for the one-part case.
public struct Linear: Sendable, Equatable {
    public let inputs: Int
    public let outputs: Int
    public let activation: Activation
    /// Offsets of `W [inputs × outputs]` and `b [outputs]` in the parameter (and gradient) buffer.
    public let weightOffset: Int
    public let biasOffset: Int

    /// Reserves `name.weight` and `name.bias` in `layout`.
    public init(_ name: String, inputs: Int, outputs: Int, activation: Activation, layout: inout ParameterLayout) {
        self.inputs = inputs
        self.outputs = outputs
        self.activation = activation
        weightOffset = layout.allocate("\(name).weight", shape: [inputs, outputs], fanIn: inputs)
        biasOffset = layout.allocate("\(name).bias", shape: [outputs], fanIn: inputs)
    }

    /// Where `b` lies in the parameter (and gradient) buffer.
    public var biasRange: Range<Int> { biasOffset..<(biasOffset + outputs) }

    /// Where rows `rows` of `W` (the weights of those inputs) lie in the parameter buffer.
    public func weightRange(rows: Range<Int>) -> Range<Int> {
        (weightOffset + rows.lowerBound * outputs)..<(weightOffset + rows.upperBound * outputs)
    }

    // MARK: forward

    /// `y (+)= x · W[firstRow ..< firstRow + width, :]` for one input part of `width` columns.
    /// The first part overwrites (`accumulate: false`), later parts accumulate.
    @inlinable
    public func forwardPart(
        _ x: UnsafePointer<Float>, width: Int, firstRow: Int, rows: Int, output y: UnsafeMutablePointer<Float>,
        parameters: UnsafePointer<Float>, accumulate: Bool
    ) {
        precondition(firstRow + width <= inputs, "Linear: input part exceeds \(inputs) rows")
        gemm(x, parameters + weightOffset + firstRow * outputs, y, m: rows, n: outputs, k: width, accumulate: accumulate)
    }

    /// Adds the bias and applies the activation in place, after all parts.
    @inlinable
    public func finishForward(_ y: UnsafeMutablePointer<Float>, rows: Int, parameters: UnsafePointer<Float>) {
        ElementwiseBias.forward(y, bias: parameters + biasOffset, rows: rows, cols: outputs, activation: activation)
    }

    /// `y = act(x · W + b)` for a single-part input of `inputs` columns.
    @inlinable
    public func forward(
        _ x: UnsafePointer<Float>, rows: Int, output y: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>
    ) {
        forwardPart(x, width: inputs, firstRow: 0, rows: rows, output: y, parameters: parameters, accumulate: false)
        finishForward(y, rows: rows, parameters: parameters)
    }

    // MARK: backward

    /// Turns `dy` (gradient w.r.t. the activation's output `y`) into the gradient w.r.t. the
    /// pre-activation, in place, and adds the bias gradient. Call once, before the part functions.
    /// The rows are summed in `leaves`' order (`BatchLeaves`).
    @inlinable
    public func backwardActivation(
        _ dy: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>, leaves: BatchLeaves,
        gradients: UnsafeMutablePointer<Float>
    ) {
        ElementwiseBias.backward(dy, output: y, biasGradient: gradients + biasOffset, leaves: leaves, cols: outputs,
                                 activation: activation)
    }

    /// `backwardActivation` with the rows in one leaf.
    @inlinable
    public func backwardActivation(
        _ dy: UnsafeMutablePointer<Float>, output y: UnsafePointer<Float>, rows: Int,
        gradients: UnsafeMutablePointer<Float>
    ) {
        backwardActivation(dy, output: y, leaves: .whole(rows), gradients: gradients)
    }

    /// `dW[firstRow ..< firstRow + width, :] = xᵀ · dy` for one input part: overwritten, since parts own
    /// disjoint rows and each layer runs backward once per step.
    /// The rows (the batch) are summed in `leaves`' order (`BatchLeaves`). `ready` hears the part's rows of
    /// `W` in bands, each as soon as its gradient is final (`GradientsReady`). With `sharing`, ranks that
    /// have finished their own backward may compute some of the bands (`WeightGradientSharing`).
    @inlinable
    public func backwardWeightsPart(
        _ x: UnsafePointer<Float>, width: Int, firstRow: Int, leaves: BatchLeaves,
        preActivationGradient dy: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>,
        ready: GradientsReady? = nil, sharing: (any WeightGradientSharing)? = nil
    ) {
        let dW = gradients + weightOffset + firstRow * outputs
        /// The part's rows `rows` of `W` are final.
        func partRowsDone(_ rows: Range<Int>) {
            ready?(weightRange(rows: (firstRow + rows.lowerBound)..<(firstRow + rows.upperBound)))
        }
        if let sharing {
            sharing.weightGradient(x, dy, into: dW, m: width, n: outputs, leaves: leaves, rowsDone: partRowsDone)
        } else {
            gemmTN(x, dy, dW, m: width, n: outputs, leaves: leaves, accumulate: false,
                   rowsDone: ready == nil ? nil : partRowsDone)
        }
    }

    /// `backwardWeightsPart` with the rows in one leaf.
    @inlinable
    public func backwardWeightsPart(
        _ x: UnsafePointer<Float>, width: Int, firstRow: Int, rows: Int, preActivationGradient dy: UnsafePointer<Float>,
        gradients: UnsafeMutablePointer<Float>
    ) {
        backwardWeightsPart(x, width: width, firstRow: firstRow, leaves: .whole(rows), preActivationGradient: dy,
                            gradients: gradients)
    }

    /// `dx (+)= dy · W[firstRow ..< firstRow + width, :]ᵀ` (`rows × width`): overwrites `dx`, or adds to it
    /// with `accumulate` (an input read by two layers, e.g. the condition tower's features).
    @inlinable
    public func backwardInputPart(
        preActivationGradient dy: UnsafePointer<Float>, width: Int, firstRow: Int, rows: Int,
        inputGradient dx: UnsafeMutablePointer<Float>, parameters: UnsafePointer<Float>, accumulate: Bool = false
    ) {
        gemmNT(dy, parameters + weightOffset + firstRow * outputs, dx, m: rows, n: width, k: outputs,
               accumulate: accumulate)
    }

    /// Full backward for a single-part input: `dy` is consumed (overwritten with the pre-activation
    /// gradient); weight and bias gradients are written into `gradients`; `dx` (if given) is overwritten.
    @inlinable
    public func backward(
        input x: UnsafePointer<Float>, output y: UnsafePointer<Float>, outputGradient dy: UnsafeMutablePointer<Float>,
        inputGradient dx: UnsafeMutablePointer<Float>?, rows: Int,
        parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>
    ) {
        backwardActivation(dy, output: y, rows: rows, gradients: gradients)
        if let dx {
            backwardInputPart(preActivationGradient: dy, width: inputs, firstRow: 0, rows: rows, inputGradient: dx,
                              parameters: parameters)
        }
        backwardWeightsPart(x, width: inputs, firstRow: 0, rows: rows, preActivationGradient: dy, gradients: gradients)
    }
}
