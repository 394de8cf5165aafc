#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One line of a plot: points (x_i, y_i) joined in order, in one colour. Non-finite points are skipped.
public struct PlotSeries: Sendable, Equatable {
    public var xs: [Double]
    public var ys: [Double]
    public var color: RGB
    /// Joined by a line with a dot on each point, or dots of a radius only (a scatter plot).
    public var style: Style

    public enum Style: Sendable, Equatable {
        case line
        case dots(radius: Int)
    }

    public init(xs: [Double], ys: [Double], color: RGB, style: Style = .line) {
        precondition(xs.count == ys.count, "PlotSeries: xs and ys differ in length")
        self.xs = xs
        self.ys = ys
        self.color = color
        self.style = style
    }
}

/// One panel of a figure: its series, and the words that make it readable without a caption.
public struct PlotPanel {
    public var series: [PlotSeries]
    public var title: String
    public var xLabel: String
    public var yLabel: String
    /// Legend entries, drawn top right inside the plot: a colour swatch and a name each.
    public var legend: [(name: String, color: RGB)]

    public init(series: [PlotSeries], title: String = "", xLabel: String = "", yLabel: String = "",
                legend: [(name: String, color: RGB)] = []) {
        self.series = series
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.legend = legend
    }
}

/// Line plots in side-by-side panels, each with its own y axis: a title, axes with ticks and numeric
/// labels, axis labels (the y label above its axis), light grid lines, a legend, and every series as a
/// 2-pixel line with a dot on each point (so a single epoch still shows). Text is a 3×5 pixel font.
public enum LinePlot {
    public static let margins = (left: 64, right: 14, top: 44, bottom: 50)

    /// Renders `panels` left to right, each `panelWidth × panelHeight` pixels.
    public static func render(panels: [PlotPanel], panelWidth: Int = 380, panelHeight: Int = 300) -> RGBImage {
        precondition(!panels.isEmpty && panelWidth > margins.left + margins.right + 10
                     && panelHeight > margins.top + margins.bottom + 10, "LinePlot: panels too small")
        var image = RGBImage(width: panelWidth * panels.count, height: panelHeight)
        for (index, panel) in panels.enumerated() {
            let left = index * panelWidth
            let points = draw(panel.series, into: &image, left: left, width: panelWidth, height: panelHeight)
            // Words in capitals: the font's lower-case "e" is the number format's exponent.
            let title = panel.title.uppercased(), xLabel = panel.xLabel.uppercased(), yLabel = panel.yLabel.uppercased()
            image.text(title, x: left + (panelWidth - RGBImage.textWidth(title)) / 2, y: 6)
            image.text(yLabel, x: left + 8, y: margins.top - 16)
            let x0 = left + margins.left, x1 = left + panelWidth - margins.right
            image.text(xLabel, x: (x0 + x1 - RGBImage.textWidth(xLabel)) / 2, y: panelHeight - 16)
            drawLegend(panel.legend, into: &image, area: (x0 + 6, margins.top + 6, x1 - 6, panelHeight - margins.bottom - 6),
                       avoiding: points)
        }
        return image
    }

    /// Swatches and names stacked on a white box in the corner of the plot `area` (left, top, right,
    /// bottom) that covers the fewest data `points`.
    static func drawLegend(_ entries: [(name: String, color: RGB)], into image: inout RGBImage,
                           area: (Int, Int, Int, Int), avoiding points: [(Int, Int)]) {
        guard !entries.isEmpty else { return }
        let entries = entries.map { (name: $0.name.uppercased(), color: $0.color) }
        let width = (entries.map { RGBImage.textWidth($0.name) }.max() ?? 0) + 26, rowHeight = 16
        let height = rowHeight * entries.count + 6
        let corners = [(area.2 - width, area.1), (area.2 - width, area.3 - height), (area.0, area.1), (area.0, area.3 - height)]
        func covered(_ corner: (Int, Int)) -> Int {
            points.filter { $0.0 >= corner.0 - 4 && $0.0 <= corner.0 + width + 4 && $0.1 >= corner.1 - 4 && $0.1 <= corner.1 + height + 4 }.count
        }
        let (left, top) = corners.min { covered($0) < covered($1) }!
        image.fill(x: left, y: top, width: width, height: height, color: .white)
        for (row, entry) in entries.enumerated() {
            let y = top + 4 + row * rowHeight
            image.fill(x: left + 4, y: y, width: 12, height: 10, color: entry.color)
            image.text(entry.name, x: left + 22, y: y)
        }
    }

    /// Draws the axes and series; returns the series' points in pixels (along lines too, every few pixels).
    @discardableResult
    static func draw(_ series: [PlotSeries], into image: inout RGBImage, left: Int, width: Int, height: Int) -> [(Int, Int)] {
        var drawn: [(Int, Int)] = []
        let x0 = left + margins.left, x1 = left + width - margins.right
        let y0 = height - margins.bottom, y1 = margins.top   // y0 is the bottom (pixel rows grow downwards)
        var xs: [Double] = [], ys: [Double] = []
        for s in series {
            for (x, y) in zip(s.xs, s.ys) where x.isFinite && y.isFinite { xs.append(x); ys.append(y) }
        }
        let xRange = paddedRange(xs, pad: 0)
        let yRange = paddedRange(ys, pad: 0.05)
        let xTicks = niceTicks(xRange.lower, xRange.upper, count: 6)
        let yTicks = niceTicks(yRange.lower, yRange.upper, count: 5)
        func px(_ x: Double) -> Int { x0 + Int(((x - xRange.lower) / (xRange.upper - xRange.lower) * Double(x1 - x0)).rounded()) }
        func py(_ y: Double) -> Int { y0 - Int(((y - yRange.lower) / (yRange.upper - yRange.lower) * Double(y0 - y1)).rounded()) }

        for t in yTicks.values where t >= yRange.lower && t <= yRange.upper {
            let y = py(t)
            image.line(x0 + 1, y, x1, y, color: .lightGray)
            image.line(x0 - 5, y, x0, y, color: .black)
            let label = format(t, decimals: yTicks.decimals)
            image.text(label, x: x0 - 8 - RGBImage.textWidth(label), y: y - 5)
        }
        for t in xTicks.values where t >= xRange.lower && t <= xRange.upper {
            let x = px(t)
            image.line(x, y0, x, y0 + 5, color: .black)
            let label = format(t, decimals: xTicks.decimals)
            image.text(label, x: x - RGBImage.textWidth(label) / 2, y: y0 + 10)
        }
        image.line(x0, y0, x1, y0, color: .black)
        image.line(x0, y0, x0, y1, color: .black)
        for s in series {
            var previous: (Int, Int)?
            for (x, y) in zip(s.xs, s.ys) {
                guard x.isFinite && y.isFinite else { previous = nil; continue }
                let point = (px(x), py(y))
                drawn.append(point)
                switch s.style {
                case .line:
                    if let previous {
                        image.line(previous.0, previous.1, point.0, point.1, color: s.color, thickness: 2)
                        let steps = max(abs(point.0 - previous.0), abs(point.1 - previous.1)) / 4
                        for i in stride(from: 1, to: steps, by: 1) {
                            drawn.append((previous.0 + (point.0 - previous.0) * i / steps, previous.1 + (point.1 - previous.1) * i / steps))
                        }
                    }
                    image.disc(point.0, point.1, radius: 3, color: s.color)
                case .dots(let radius):
                    image.disc(point.0, point.1, radius: radius, color: s.color)
                }
                previous = point
            }
        }
        return drawn
    }

    /// The data's range widened by `pad` of its span on each side; a single value gets ±0.5 (or ±5%).
    static func paddedRange(_ values: [Double], pad: Double) -> (lower: Double, upper: Double) {
        guard let lower = values.min(), let upper = values.max() else { return (0, 1) }
        if upper - lower <= 1e-12 * max(1, abs(upper)) {
            let half = max(0.5, abs(upper) * 0.05)
            return (lower - half, upper + half)
        }
        let span = upper - lower
        return (lower - pad * span, upper + pad * span)
    }

    /// About `count` "nice" tick values (steps of 1, 2 or 5 × 10ⁿ) covering [lower, upper], and the number
    /// of decimals their labels need.
    public static func niceTicks(_ lower: Double, _ upper: Double, count: Int) -> (values: [Double], decimals: Int) {
        precondition(upper > lower && count >= 1, "niceTicks: empty range")
        let raw = (upper - lower) / Double(count)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        var values: [Double] = []
        var t = ceil(lower / step) * step
        while t <= upper + 1e-9 * step {
            values.append(abs(t) < 1e-12 * step ? 0 : t)
            t += step
        }
        return (values, max(0, -Int(floor(log10(step) + 1e-9))))
    }

    /// `value` with `decimals` digits after the point, without Foundation.
    public static func format(_ value: Double, decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int((abs(value) * scale).rounded())
        let whole = scaled / Int(scale), fraction = scaled % Int(scale)
        var text = (value < 0 && scaled != 0 ? "-" : "") + String(whole)
        if decimals > 0 {
            let digits = String(fraction)
            text += "." + String(repeating: "0", count: decimals - digits.count) + digits
        }
        return text
    }
}
