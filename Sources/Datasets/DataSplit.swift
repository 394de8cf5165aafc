import FileFormats
/// One split of a data set (train or test): images as bytes and their labels, validated to match.
///
/// Pixels stay `UInt8` (4× less memory than Float, and the whole training set stays in cache-friendly form);
/// `fillBatch` converts the examples of one batch to `Float` in [0, 1] at training time, as the tutorial's
/// MNIST experiments (section 4) model pixels as values in [0, 1].
public struct DataSplit: Sendable {
    public let images: IDXImages
    /// One label per image, each below `classCount`.
    public let labels: [UInt8]
    public let classCount: Int

    public var count: Int { images.count }
    /// Floats per example in a batch row (rows · cols, 784 for MNIST).
    public var featureCount: Int { images.pixelsPerImage }

    /// Pairs images and labels; throws when the counts differ (naming `labelsPath`).
    public init(images: IDXImages, labels: [UInt8], classCount: Int = 10, labelsPath: String = "labels") throws {
        guard images.count == labels.count else {
            throw FileFormatError(labelsPath, "label count \(labels.count) does not match image count \(images.count)")
        }
        if let bad = labels.firstIndex(where: { Int($0) >= classCount }) {
            throw FileFormatError(labelsPath, "label \(labels[bad]) at index \(bad) is out of range 0…\(classCount - 1)")
        }
        self.images = images
        self.labels = labels
        self.classCount = classCount
    }

    /// Reads an images file and a labels file (each plain or gzip) into a split.
    public init(imagesPath: String, labelsPath: String, classCount: Int = 10) throws {
        let images = try IDX.readImages(path: imagesPath)
        let labels = try IDX.readLabels(path: labelsPath, classCount: classCount)
        try self.init(images: images, labels: labels, classCount: classCount, labelsPath: labelsPath)
    }

    /// Writes the examples `indices` as rows of `featureCount` Floats (pixel / 255) into `batch`.
    ///
    /// The training hot path: no allocation, one pass, 16 pixels at a time. `batch` must hold
    /// `indices.count · featureCount` Floats. Indices must be in `0..<count` (checked: a bad index is a bug).
    public func fillBatch(indices: UnsafeBufferPointer<Int>, into batch: UnsafeMutablePointer<Float>) {
        let width = featureCount
        let total = count
        images.pixels.withUnsafeBufferPointer { pixelBuffer in
            let pixels = pixelBuffer.baseAddress!
            for (row, index) in indices.enumerated() {
                precondition(index >= 0 && index < total, "example index \(index) is outside 0..<\(total)")
                convertPixels(pixels + index * width, into: batch + row * width, count: width)
            }
        }
    }

    /// `fillBatch` for an array of indices.
    public func fillBatch(indices: [Int], into batch: UnsafeMutablePointer<Float>) {
        indices.withUnsafeBufferPointer { fillBatch(indices: $0, into: batch) }
    }

    /// Writes one-hot rows of `classCount` Floats for the labels of `indices` (the CVAE's condition, section 3).
    public func fillOneHotLabels(indices: UnsafeBufferPointer<Int>, into batch: UnsafeMutablePointer<Float>) {
        let classes = classCount
        batch.update(repeating: 0, count: indices.count * classes)
        labels.withUnsafeBufferPointer { labels in
            for (row, index) in indices.enumerated() {
                precondition(index >= 0 && index < labels.count, "example index \(index) is outside 0..<\(labels.count)")
                batch[row * classes + Int(labels[index])] = 1
            }
        }
    }
}

/// `out[i] = Float(bytes[i]) / 255` — the fast path, 16 lanes at a time, with a scalar tail.
@inlinable
func convertPixels(_ bytes: UnsafePointer<UInt8>, into out: UnsafeMutablePointer<Float>, count: Int) {
    let scale = SIMD16<Float>(repeating: 255)
    var i = 0
    while i + 16 <= count {
        let raw = UnsafeRawPointer(bytes + i).loadUnaligned(as: SIMD16<UInt8>.self)
        let values = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: raw)) / scale
        UnsafeMutableRawPointer(out + i).storeBytes(of: values, as: SIMD16<Float>.self)
        i += 16
    }
    while i < count {
        out[i] = Float(bytes[i]) / 255
        i += 1
    }
}

/// The naive reference `convertPixels` is tested against.
func convertPixelsReference(_ bytes: [UInt8]) -> [Float] {
    bytes.map { Float($0) / 255 }
}
