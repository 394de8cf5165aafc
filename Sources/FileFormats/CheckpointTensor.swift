import Foundation

/// A named Float32 tensor stored in a checkpoint (parameters, Adam's m and v, ...).
public struct CheckpointTensor: Sendable, Equatable {
    public let name: String
    public var values: [Float]

    public init(name: String, values: [Float]) {
        self.name = name
        self.values = values
    }
}

/// A tensor to write, borrowed where it lives (a `FlatBuffer`): writing a checkpoint copies no tensor.
public struct CheckpointTensorView {
    public let name: String
    public let values: UnsafeBufferPointer<Float>

    public init(name: String, values: UnsafeBufferPointer<Float>) {
        self.name = name
        self.values = values
    }
}

/// What a checkpoint file held: the caller's metadata and its tensors, in file order.
public struct CheckpointContents<Metadata: Decodable> {
    public let path: String
    public let metadata: Metadata
    public let tensors: [CheckpointTensor]

    /// The tensor called `name`; when `count` is given its length must match (a checkpoint of another architecture
    /// fails here with a message instead of crashing later).
    public func tensor(_ name: String, count: Int? = nil) throws -> [Float] {
        guard let tensor = tensors.first(where: { $0.name == name }) else {
            let names = tensors.map(\.name).joined(separator: ", ")
            throw FileFormatError(path, "no tensor named '\(name)' (it holds: \(names))")
        }
        if let count, tensor.values.count != count {
            throw FileFormatError(path, "tensor '\(name)' has \(tensor.values.count) values but this model needs \(count)")
        }
        return tensor.values
    }
}
