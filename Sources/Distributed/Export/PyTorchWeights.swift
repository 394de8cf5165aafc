import FileFormats
import Model

/// A network's parameters as PyTorch names them, for safetensors files that `load_state_dict` takes.
///
/// Every linear layer becomes `<name>.weight` of shape `[out, in]` (PyTorch's `nn.Linear`; vae-dist stores
/// `[in, out]`, so weights are transposed) and `<name>.bias` of shape `[out]`. Names:
/// - the classic VAE (one hidden layer each side, no condition) takes the names of PyTorch's
///   examples/vae model: `fc1` (encoder), `fc21` (μ), `fc22` (log σ²), `fc3`, `fc4` (decoder);
/// - every other network keeps vae-dist's layer names — `encoder.0`, `encoder.1`, …, `decoder.0`, …,
///   `tower.0`, … — and its encoder's last layer stays one `[2L, in]` layer whose first L outputs are μ
///   and last L are log σ² (split it with `torch.chunk(…, 2)`).
public enum PyTorchWeights {
    /// One vae-dist layout entry's part under a PyTorch name: `columns` of the stored `[in, out]` matrix
    /// (all of a bias vector's entries).
    struct Mapping {
        var torchName: String
        var entry: ParameterLayout.Entry
        var columns: Range<Int>
    }

    /// True for the network PyTorch's examples/vae defines.
    static func isClassic(_ spec: NetworkSpec) -> Bool {
        spec.kind == .vae && spec.architecture.encoderHidden.count == 1 && spec.architecture.decoderHidden.count == 1
    }

    static func mappings(_ network: any Network) -> [Mapping] {
        let classic = isClassic(network.spec)
        let latent = network.spec.architecture.latentSize
        var result: [Mapping] = []
        for entry in network.layout.entries {
            let parts = entry.name.split(separator: ".")
            let layer = parts.dropLast().joined(separator: "."), kind = parts.last.map(String.init) ?? ""
            let outputs = entry.shape.last ?? 1
            if classic {
                switch layer {
                case "encoder.0": result.append(Mapping(torchName: "fc1.\(kind)", entry: entry, columns: 0..<outputs))
                case "encoder.1":
                    result.append(Mapping(torchName: "fc21.\(kind)", entry: entry, columns: 0..<latent))
                    result.append(Mapping(torchName: "fc22.\(kind)", entry: entry, columns: latent..<2 * latent))
                case "decoder.0": result.append(Mapping(torchName: "fc3.\(kind)", entry: entry, columns: 0..<outputs))
                case "decoder.1": result.append(Mapping(torchName: "fc4.\(kind)", entry: entry, columns: 0..<outputs))
                default: result.append(Mapping(torchName: entry.name, entry: entry, columns: 0..<outputs))
                }
            } else {
                result.append(Mapping(torchName: entry.name, entry: entry, columns: 0..<outputs))
            }
        }
        return result
    }

    /// The parameters as PyTorch-named tensors, weights transposed to `[out, in]`.
    public static func tensors(of network: any Network, parameters: FlatBuffer) -> [SafeTensors.Tensor] {
        mappings(network).map { m in
            let base = parameters.baseAddress + m.entry.offset
            if m.entry.shape.count == 2 {
                let inputs = m.entry.shape[0], outputs = m.entry.shape[1]
                var values = [Float](repeating: 0, count: m.columns.count * inputs)
                for (row, column) in m.columns.enumerated() {
                    for i in 0..<inputs { values[row * inputs + i] = base[i * outputs + column] }
                }
                return SafeTensors.Tensor(name: m.torchName, shape: [m.columns.count, inputs], values: values)
            }
            return SafeTensors.Tensor(name: m.torchName, shape: [m.columns.count], values: m.columns.map { base[$0] })
        }
    }

    /// Writes `contents`' tensors into `parameters`. Every tensor the network needs must be there with its
    /// PyTorch shape, and nothing else may be: a file for another model is one clear error, never a
    /// silently half-initialized network.
    public static func assign(_ contents: SafeTensors.Contents, to network: any Network, parameters: FlatBuffer,
                              path: String) throws {
        let needed = mappings(network)
        let expected = Set(needed.map(\.torchName))
        if let extra = contents.tensors.first(where: { !expected.contains($0.name) }) {
            throw FileFormatError(path, "holds '\(extra.name)', which this \(network.spec.kind.rawValue) "
                + "(\(network.spec.architecture)) does not have: exported from another model?")
        }
        for m in needed {
            guard let tensor = contents.tensor(m.torchName) else {
                throw FileFormatError(path, "has no tensor '\(m.torchName)', which this \(network.spec.kind.rawValue) "
                    + "(\(network.spec.architecture)) needs")
            }
            let base = parameters.baseAddress + m.entry.offset
            if m.entry.shape.count == 2 {
                let inputs = m.entry.shape[0], outputs = m.entry.shape[1]
                guard tensor.shape == [m.columns.count, inputs] else {
                    throw FileFormatError(path, "'\(m.torchName)' has shape \(tensor.shape); this model needs [\(m.columns.count), \(inputs)]")
                }
                for (row, column) in m.columns.enumerated() {
                    for i in 0..<inputs { base[i * outputs + column] = tensor.values[row * inputs + i] }
                }
            } else {
                guard tensor.shape == [m.columns.count] else {
                    throw FileFormatError(path, "'\(m.torchName)' has shape \(tensor.shape); this model needs [\(m.columns.count)]")
                }
                for (index, column) in m.columns.enumerated() { base[column] = tensor.values[index] }
            }
        }
    }
}
