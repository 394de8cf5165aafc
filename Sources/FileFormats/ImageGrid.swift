/// An 8-bit grayscale image, row-major.
public struct GrayImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0 && pixels.count == width * height)
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

/// Tiles many small images into one picture: a `rows × cols` grid with a border between and around the cells,
/// each image optionally enlarged by an integer factor (nearest neighbour). Used for sample and
/// reconstruction grids like the tutorial's figures (section 4).
public enum ImageGrid {
    /// - Parameters:
    ///   - images: `count · height · width` Floats in [0, 1] (values outside are clamped, NaN shows as 0),
    ///     image after image, row-major.
    ///   - rows, cols: the grid; cells beyond `count` stay background. `rows · cols` must be ≥ `count`.
    ///   - border: pixels between cells and around the grid (≥ 0).
    ///   - scale: integer upscale of every image (≥ 1).
    ///   - borderValue: gray level of the border (128: mid-gray, visible against black and white digits).
    public static func tile(
        images: UnsafeBufferPointer<Float>, count: Int, height: Int, width: Int,
        rows: Int, cols: Int, border: Int = 1, scale: Int = 1, borderValue: UInt8 = 128
    ) -> GrayImage {
        precondition(count >= 0 && height >= 1 && width >= 1 && rows >= 1 && cols >= 1 && border >= 0 && scale >= 1)
        precondition(rows * cols >= count, "grid \(rows)×\(cols) is too small for \(count) images")
        precondition(images.count >= count * height * width, "images buffer holds fewer than count·height·width Floats")
        let cellHeight = height * scale, cellWidth = width * scale
        let gridWidth = cols * cellWidth + (cols + 1) * border
        let gridHeight = rows * cellHeight + (rows + 1) * border
        var pixels = [UInt8](repeating: borderValue, count: gridWidth * gridHeight)
        for index in 0..<count {
            let top = border + (index / cols) * (cellHeight + border)
            let left = border + (index % cols) * (cellWidth + border)
            let image = index * height * width
            for y in 0..<cellHeight {
                let sourceRow = image + (y / scale) * width
                let targetRow = (top + y) * gridWidth + left
                for x in 0..<cellWidth {
                    pixels[targetRow + x] = grayLevel(images[sourceRow + x / scale])
                }
            }
        }
        return GrayImage(width: gridWidth, height: gridHeight, pixels: pixels)
    }

    /// `tile` for an array.
    public static func tile(
        images: [Float], count: Int, height: Int, width: Int,
        rows: Int, cols: Int, border: Int = 1, scale: Int = 1, borderValue: UInt8 = 128
    ) -> GrayImage {
        images.withUnsafeBufferPointer {
            tile(images: $0, count: count, height: height, width: width, rows: rows, cols: cols,
                 border: border, scale: scale, borderValue: borderValue)
        }
    }

    /// A near-square grid for `count` images: `cols = ceil(sqrt(count))`, `rows = ceil(count / cols)`.
    public static func squareShape(for count: Int) -> (rows: Int, cols: Int) {
        guard count > 0 else { return (1, 1) }
        var cols = 1
        while cols * cols < count { cols += 1 }
        return ((count + cols - 1) / cols, cols)
    }

    /// [0, 1] → 0…255, rounding to nearest; clamps outside values, NaN → 0.
    @inline(__always)
    static func grayLevel(_ value: Float) -> UInt8 {
        guard value > 0 else { return 0 }  // also catches NaN
        guard value < 1 else { return 255 }
        return UInt8(value * 255 + 0.5)
    }
}
