/// The optional condition tower: an MLP with ReLU on every layer that turns the condition vector X into
/// features, which then take X's place as the second input part of the first encoder and decoder layers.
///
/// This follows the tutorial's published Caffe MNIST CVAE (§5): the binarized middle column (28 pixels)
/// goes through its own fully connected ReLU layers 28-1000-500-250, and those 250 features are
/// concatenated into both Q(z|Y,X) and P(Y|z,X). There is ONE tower, shared by encoder and decoder: it
/// runs once per forward pass, and its output gradient is the sum of the encoder's and the decoder's
/// contributions (the decoder's overwrites, the encoder's adds), back-propagated once. For the regressor
/// the tower feeds the decoder stack, so the baseline keeps the capacity of the CVAE's decoder path.
///
/// With no widths (the default) there is no tower: `featureSize == conditionSize`, nothing is allocated
/// in the parameter layout, and the raw condition is the feature — exactly the tower-less network.
public struct ConditionTower: Sendable, Equatable {
    /// Width of the raw condition X.
    public let conditionSize: Int
    /// The tower's layers (`condition.0`, `condition.1`, …), or nil without a tower.
    public let mlp: MLP?
    /// Width of what the encoder and decoder read in place of X.
    public var featureSize: Int { mlp?.outputSize ?? conditionSize }
    /// The widest tower layer (0 without a tower): backward runs in the network's shared scratch.
    public var maxWidth: Int { mlp?.maxWidth ?? 0 }

    /// Reserves `condition.i.weight/bias` in `layout` for `conditionSize → widths…` (none when `widths` is empty).
    public init(conditionSize: Int, widths: [Int], layout: inout ParameterLayout) {
        precondition(widths.isEmpty || conditionSize > 0, "ConditionTower: a tower needs a condition")
        self.conditionSize = conditionSize
        mlp = widths.isEmpty ? nil
            : MLP("condition", widths: [conditionSize] + widths, finalActivation: .relu, layout: &layout)
    }

    /// The tower's activation arrays in a network's workspace.
    struct Buffers {
        /// `outputs[i]` is `rows × widths[i]` (empty without a tower).
        let outputs: [UnsafeMutablePointer<Float>]
        /// ∂loss/∂features, `rows × featureSize`: written by the decoder, added to by the encoder.
        let featureGradient: UnsafeMutablePointer<Float>?
    }

    /// Sizes of the arrays `take` carves out for `rows` rows (for `Workspace.floatsNeeded`).
    func arraySizes(rows: Int) -> [Int] {
        guard let mlp else { return [] }
        return mlp.layers.map { rows * $0.outputs } + [rows * featureSize]
    }

    /// Takes the arrays of `arraySizes(rows:)` from `workspace`, in that order.
    func take(from workspace: Workspace, rows: Int) -> Buffers {
        guard let mlp else { return Buffers(outputs: [], featureGradient: nil) }
        return Buffers(outputs: mlp.layers.map { workspace.take(rows * $0.outputs) },
                       featureGradient: workspace.take(rows * featureSize))
    }

    /// Where the features of a forward pass are: the tower's last output, or the conditions themselves.
    func features(_ conditions: UnsafePointer<Float>?, outputs: [UnsafeMutablePointer<Float>]) -> UnsafePointer<Float>? {
        mlp == nil ? conditions : UnsafePointer(outputs[outputs.count - 1])
    }

    /// Runs the tower on `rows` conditions and returns the features (`rows × featureSize`); without a
    /// tower, returns `conditions` untouched.
    @discardableResult
    func forward(_ conditions: UnsafePointer<Float>?, rows: Int, _ b: Buffers,
                 parameters: UnsafePointer<Float>) -> UnsafePointer<Float>? {
        if let mlp, let conditions {
            mlp.forward(conditions, firstWidth: conditionSize, second: nil, secondWidth: 0, rows: rows,
                        outputs: b.outputs, parameters: parameters)
        }
        return features(conditions, outputs: b.outputs)
    }

    /// Back-propagates `b.featureGradient` (the summed encoder + decoder contributions) through the tower,
    /// writing its parameter gradients into `gradients`. `scratch` is the network's backward scratch (each
    /// at least `rows × maxWidth`; clobbered). Sums over the rows follow `leaves`; `ready` hears each layer
    /// as its gradients are done, and `sharing` computes its weight gradients. No-op without a tower.
    func backward(_ conditions: UnsafePointer<Float>, leaves: BatchLeaves, _ b: Buffers,
                  scratch: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>),
                  parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>, ready: GradientsReady?,
                  sharing: (any WeightGradientSharing)?) {
        guard let mlp, let featureGradient = b.featureGradient else { return }
        scratch.0.update(from: featureGradient, count: leaves.rows * featureSize)
        mlp.backward(conditions, firstWidth: conditionSize, second: nil, secondWidth: 0, leaves: leaves,
                     outputs: b.outputs, scratch: scratch, firstInputGradient: nil,
                     parameters: parameters, gradients: gradients, ready: ready, sharing: sharing)
    }
}
