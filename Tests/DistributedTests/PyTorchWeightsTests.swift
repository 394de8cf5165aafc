import Testing
@testable import Distributed
import FileFormats
import Model

/// vae-dist parameters under PyTorch's names and shapes, and back.
struct PyTorchWeightsTests {
    static func network(_ spec: NetworkSpec, seed: UInt64 = 5) -> (any Network, FlatBuffer) {
        let network = makeNetwork(spec, seed: seed)
        let parameters = FlatBuffer(count: network.layout.count)
        network.initializeParameters(parameters)
        return (network, parameters)
    }

    @Test("the classic VAE exports as PyTorch's examples/vae model: fc1, fc21, fc22, fc3, fc4, weights [out, in]")
    func classicNames() throws {
        let (network, parameters) = Self.network(NetworkSpec(kind: .vae, architecture: .classic))
        let tensors = PyTorchWeights.tensors(of: network, parameters: parameters)
        let shapes = Dictionary(uniqueKeysWithValues: tensors.map { ($0.name, $0.shape) })
        #expect(shapes == ["fc1.weight": [400, 784], "fc1.bias": [400], "fc21.weight": [20, 400], "fc21.bias": [20],
                           "fc22.weight": [20, 400], "fc22.bias": [20], "fc3.weight": [400, 20], "fc3.bias": [400],
                           "fc4.weight": [784, 400], "fc4.bias": [784]])
        // fc1.weight[j][i] is W[i][j]: row j of PyTorch's weight is output j.
        let entry = try #require(network.layout.entry(named: "encoder.0.weight"))
        let fc1 = try #require(tensors.first { $0.name == "fc1.weight" })
        #expect(fc1.values[3 * 784 + 5] == parameters[entry.offset + 5 * 400 + 3])
        // fc22 (log σ²) is the second half of the fused head's outputs.
        let head = try #require(network.layout.entry(named: "encoder.1.bias"))
        #expect(try #require(tensors.first { $0.name == "fc22.bias" }).values[0] == parameters[head.offset + 20])
    }

    @Test("export then import gives the same parameters bit for bit", arguments: [
        NetworkSpec(kind: .vae, architecture: .classic),
        NetworkSpec(kind: .vae, architecture: .deep),
        NetworkSpec(kind: .cvae, architecture: .classic, conditionTower: [30, 20]),
        NetworkSpec(kind: .regressor, architecture: .classic, conditioning: .label(classes: 10)),
    ])
    func roundTrip(spec: NetworkSpec) throws {
        let (network, parameters) = Self.network(spec)
        let contents = SafeTensors.Contents(tensors: PyTorchWeights.tensors(of: network, parameters: parameters), metadata: [:])
        let back = FlatBuffer(count: parameters.count)
        try PyTorchWeights.assign(contents, to: network, parameters: back, path: "m.safetensors")
        #expect(back.toArray().map(\.bitPattern) == parameters.toArray().map(\.bitPattern))
    }

    @Test("weights of another model are refused, naming the tensor")
    func mismatch() throws {
        let (classic, parameters) = Self.network(NetworkSpec(kind: .vae, architecture: .classic))
        let (deep, _) = Self.network(NetworkSpec(kind: .vae, architecture: .deep))
        let contents = SafeTensors.Contents(tensors: PyTorchWeights.tensors(of: classic, parameters: parameters), metadata: [:])
        #expect(throws: FileFormatError.self) {
            try PyTorchWeights.assign(contents, to: deep, parameters: FlatBuffer(count: deep.layout.count), path: "m")
        }
        var missing = contents
        missing.tensors.removeAll { $0.name == "fc3.bias" }
        do {
            try PyTorchWeights.assign(missing, to: classic, parameters: FlatBuffer(count: parameters.count), path: "m")
            Issue.record("a file without fc3.bias was accepted")
        } catch let error as FileFormatError {
            #expect(error.problem.contains("fc3.bias"))
        }
    }
}
