/// An 8-bit RGB image, row-major, 3 bytes per pixel — the canvas for plots (loss curves, latent scatter).
///
/// A deliberately tiny rasterizer: filled rectangles, 1-pixel lines (Bresenham) thickened by a square
/// pen, discs, and digits from a 3×5 bitmap font for tick labels. Enough for a figure a human can read;
/// no anti-aliasing, no text beyond numbers.
public struct RGBImage: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, background: RGB = .white) {
        precondition(width >= 1 && height >= 1, "RGBImage: sides must be positive")
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        fill(x: 0, y: 0, width: width, height: height, color: background)
    }

    /// Sets one pixel; coordinates outside the image are ignored (so shapes may be clipped freely).
    @inline(__always)
    public mutating func set(x: Int, y: Int, _ color: RGB) {
        guard x >= 0 && y >= 0 && x < width && y < height else { return }
        let i = (y * width + x) * 3
        pixels[i] = color.red
        pixels[i + 1] = color.green
        pixels[i + 2] = color.blue
    }

    public func color(x: Int, y: Int) -> RGB {
        let i = (y * width + x) * 3
        return RGB(pixels[i], pixels[i + 1], pixels[i + 2])
    }

    public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, color: RGB) {
        for yy in max(0, y)..<min(height, y + h) where w > 0 {
            for xx in max(0, x)..<min(width, x + w) { set(x: xx, y: yy, color) }
        }
    }

    /// A line from (x0, y0) to (x1, y1) (Bresenham), drawn with a square pen of side `thickness`.
    public mutating func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, color: RGB, thickness: Int = 1) {
        let dx = abs(x1 - x0), dy = -abs(y1 - y0)
        let sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1
        var error = dx + dy, x = x0, y = y0
        let offset = (thickness - 1) / 2
        while true {
            fill(x: x - offset, y: y - offset, width: thickness, height: thickness, color: color)
            if x == x1 && y == y1 { break }
            let e2 = 2 * error
            if e2 >= dy { error += dy; x += sx }
            if e2 <= dx { error += dx; y += sy }
        }
    }

    /// A filled disc of `radius` pixels around (cx, cy).
    public mutating func disc(_ cx: Int, _ cy: Int, radius: Int, color: RGB) {
        for y in -radius...radius {
            for x in -radius...radius where x * x + y * y <= radius * radius { set(x: cx + x, y: cy + y, color) }
        }
    }

    /// Writes `text` (digits, '.', '-', 'e', '+') with the 3×5 font scaled by `scale`, top-left at (x, y).
    /// Other characters leave a gap. Returns the width drawn.
    @discardableResult
    public mutating func text(_ text: String, x: Int, y: Int, scale: Int = 2, color: RGB = .black) -> Int {
        var cursor = x
        for character in text {
            if let glyph = TinyFont.glyphs[character] ?? TinyFont.glyphs[Character(character.uppercased())] {
                for row in 0..<5 {
                    for column in 0..<3 where glyph[row] & (4 >> column) != 0 {
                        fill(x: cursor + column * scale, y: y + row * scale, width: scale, height: scale, color: color)
                    }
                }
            }
            cursor += 4 * scale
        }
        return cursor - x
    }

    /// Width in pixels `text` takes at `scale`.
    public static func textWidth(_ text: String, scale: Int = 2) -> Int { text.count * 4 * scale - scale }

    /// A grayscale image as RGB (to place image grids inside a figure).
    public init(_ gray: GrayImage) {
        self.init(width: max(gray.width, 1), height: max(gray.height, 1))
        for i in 0..<gray.pixels.count {
            pixels[3 * i] = gray.pixels[i]; pixels[3 * i + 1] = gray.pixels[i]; pixels[3 * i + 2] = gray.pixels[i]
        }
    }
}

/// A 24-bit colour.
public struct RGB: Sendable, Equatable, Hashable {
    public var red, green, blue: UInt8
    public init(_ red: UInt8, _ green: UInt8, _ blue: UInt8) { self.red = red; self.green = green; self.blue = blue }

    public static let white = RGB(255, 255, 255)
    public static let black = RGB(0, 0, 0)
    public static let gray = RGB(160, 160, 160)
    public static let lightGray = RGB(225, 225, 225)

    /// Ten distinct colours for the ten classes (matplotlib's "tab10"), class c → `categorical[c % 10]`.
    public static let categorical: [RGB] = [
        RGB(31, 119, 180), RGB(255, 127, 14), RGB(44, 160, 44), RGB(214, 39, 40), RGB(148, 103, 189),
        RGB(140, 86, 75), RGB(227, 119, 194), RGB(127, 127, 127), RGB(188, 189, 34), RGB(23, 190, 207),
    ]
}

/// 3×5 bitmaps (each row 3 bits, most significant = left) for tick labels.
enum TinyFont {
    static let glyphs: [Character: [UInt8]] = [
        "0": [7, 5, 5, 5, 7], "1": [2, 6, 2, 2, 7], "2": [7, 1, 7, 4, 7], "3": [7, 1, 7, 1, 7],
        "4": [5, 5, 7, 1, 1], "5": [7, 4, 7, 1, 7], "6": [7, 4, 7, 5, 7], "7": [7, 1, 1, 2, 2],
        "8": [7, 5, 7, 5, 7], "9": [7, 5, 7, 1, 7], ".": [0, 0, 0, 0, 2], "-": [0, 0, 7, 0, 0],
        "+": [0, 2, 7, 2, 0], "e": [0, 7, 7, 4, 7],
        // Capitals and a little punctuation for titles, axis labels and legends (lower case is drawn as
        // upper case, except the number format's "e").
        "A": [2, 5, 7, 5, 5], "B": [6, 5, 6, 5, 6], "C": [3, 4, 4, 4, 3], "D": [6, 5, 5, 5, 6], "E": [7, 4, 6, 4, 7],
        "F": [7, 4, 6, 4, 4], "G": [3, 4, 5, 5, 3], "H": [5, 5, 7, 5, 5], "I": [7, 2, 2, 2, 7], "J": [1, 1, 1, 5, 2],
        "K": [5, 5, 6, 5, 5], "L": [4, 4, 4, 4, 7], "M": [5, 7, 7, 5, 5], "N": [6, 5, 5, 5, 5], "O": [2, 5, 5, 5, 2],
        "P": [6, 5, 6, 4, 4], "Q": [2, 5, 5, 6, 3], "R": [6, 5, 6, 5, 5], "S": [3, 4, 2, 1, 6], "T": [7, 2, 2, 2, 2],
        "U": [5, 5, 5, 5, 7], "V": [5, 5, 5, 5, 2], "W": [5, 5, 7, 7, 5], "X": [5, 5, 2, 5, 5], "Y": [5, 5, 2, 2, 2],
        "Z": [7, 1, 2, 4, 7], " ": [0, 0, 0, 0, 0], "(": [2, 4, 4, 4, 2], ")": [2, 1, 1, 1, 2], "/": [1, 1, 2, 4, 4],
        ":": [0, 2, 0, 2, 0], "=": [0, 7, 0, 7, 0], ",": [0, 0, 0, 2, 4], "%": [5, 1, 2, 4, 5], "_": [0, 0, 0, 0, 7],
    ]
}

extension PNG {
    /// Writes an RGB image (atomically).
    public static func write(to path: String, image: RGBImage) throws {
        try write(to: path, width: image.width, height: image.height, colorType: .rgb, pixels: image.pixels)
    }
}
