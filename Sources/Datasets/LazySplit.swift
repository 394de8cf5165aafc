import FileFormats
import Synchronization

/// When `Dataset.load` reads the test split.
public enum TestSplitLoading: Sendable {
    /// Read and validated with the train split, so a bad test file fails the load. For every run that will read
    /// the test split (evaluation, images, figures, conditions for samples): its user learns about a damaged
    /// t10k file at start, not after training.
    case upFront
    /// Read at the first access of `Dataset.test`, if any. Only for a run that provably never reads it (bench
    /// train, `train --no-eval --no-images`): its 7.6 MB of pixels (MNIST) then never take memory. The
    /// files must still exist, as for `upFront`: finding the data set's directory needs all four.
    case onFirstUse
}

/// A data split read from its two files at the first `get()`, then kept: every later `get()` returns the same
/// split, or throws the same one-line error, without reading the files again. Thread-safe; concurrent first
/// calls read once.
public final class LazySplit: Sendable {
    public let imagesPath: String
    public let labelsPath: String
    public let classCount: Int
    /// The rows and columns the images must have (the train split's), or nil for any.
    let requiredShape: (rows: Int, cols: Int)?
    /// nil until the first `get()`.
    private let state = Mutex<Result<DataSplit, any Error>?>(nil)

    public init(imagesPath: String, labelsPath: String, classCount: Int = 10, requiredShape: (rows: Int, cols: Int)? = nil) {
        self.imagesPath = imagesPath
        self.labelsPath = labelsPath
        self.classCount = classCount
        self.requiredShape = requiredShape
    }

    /// The split, read now if this is the first call.
    public func get() throws -> DataSplit {
        try state.withLock { state -> Result<DataSplit, any Error> in
            if let state { return state }
            let read = Result { try self.read() }
            state = read
            return read
        }.get()
    }

    /// The split if a `get()` has read it; nil before, or when reading failed. Never reads.
    public var loaded: DataSplit? {
        state.withLock { state in
            guard case .success(let split)? = state else { return nil }
            return split
        }
    }

    private func read() throws -> DataSplit {
        let split = try DataSplit(imagesPath: imagesPath, labelsPath: labelsPath, classCount: classCount)
        if let (rows, cols) = requiredShape, split.images.rows * split.images.cols != rows * cols {
            throw FileFormatError(imagesPath, "test images are \(split.images.rows)×\(split.images.cols) but train images are \(rows)×\(cols)")
        }
        return split
    }
}
