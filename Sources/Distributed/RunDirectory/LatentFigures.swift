#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Model
import FileFormats

/// Pictures of what a trained model learned, as image grids (the tutorial's §4 figures and Kingma &
/// Welling 2014's Figure 4). Each returns the image; the caller writes it with `PNG.write`.
public enum LatentFigures {
    /// Rows of `steps` images morphing test image A into test image B: both are encoded to their posterior
    /// means μ_A, μ_B and z = (1 − t) μ_A + t μ_B is decoded for t = 0, 1/(steps−1), …, 1. Unconditioned VAE.
    /// `first`, `second`: `pairs × inputSize` pixels each. The grid is `pairs` rows × `steps` columns.
    public static func interpolation(
        network: any Network, parameters: FlatBuffer, first: [Float], second: [Float], height: Int, width: Int,
        steps: Int = 10, scale: Int = 2
    ) -> GrayImage {
        precondition(network.latentSize > 0 && network.conditionSize == 0, "interpolation: needs an unconditioned VAE")
        precondition(steps >= 2 && first.count == second.count && first.count % (height * width) == 0)
        let pairs = first.count / (height * width), latent = network.latentSize
        let a = network.encode(pixels: first, conditions: [], parameters: parameters).mean
        let b = network.encode(pixels: second, conditions: [], parameters: parameters).mean
        var z = [Float](repeating: 0, count: pairs * steps * latent)
        for pair in 0..<pairs {
            for step in 0..<steps {
                let t = Float(step) / Float(steps - 1)
                for j in 0..<latent {
                    let from = a[pair * latent + j], to = b[pair * latent + j]
                    z[(pair * steps + step) * latent + j] = from + t * (to - from)
                }
            }
        }
        let images = network.decode(latent: z, conditions: [], count: pairs * steps, parameters: parameters)
        return ImageGrid.tile(images: images, count: pairs * steps, height: height, width: width,
                              rows: pairs, cols: steps, border: 1, scale: scale)
    }

    /// For a 2-dimensional latent: the decoded images over an `n × n` grid of z whose coordinates are
    /// Φ⁻¹((i + ½)/n) — equal probability mass per cell under the prior N(0, I), as in Kingma & Welling's
    /// Figure 4. Row 0 is the largest z₂, column 0 the smallest z₁.
    public static func manifold(network: any Network, parameters: FlatBuffer, height: Int, width: Int,
                                gridSize n: Int = 20, scale: Int = 1) -> GrayImage {
        precondition(network.latentSize == 2 && network.conditionSize == 0, "manifold: needs an unconditioned VAE with a 2-D latent")
        precondition(n >= 2)
        let coordinates = (0..<n).map { Float(InverseNormalCDF.quantile((Double($0) + 0.5) / Double(n))) }
        var z = [Float](repeating: 0, count: n * n * 2)
        for row in 0..<n {
            for column in 0..<n {
                z[(row * n + column) * 2] = coordinates[column]
                z[(row * n + column) * 2 + 1] = coordinates[n - 1 - row]
            }
        }
        let images = network.decode(latent: z, conditions: [], count: n * n, parameters: parameters)
        return ImageGrid.tile(images: images, count: n * n, height: height, width: width, rows: n, cols: n,
                              border: 0, scale: scale)
    }

    /// The 2-D posterior means of test images as dots coloured by class (`RGB.categorical`), on axes with
    /// numbered ticks. `means`: `count × 2`; `labels`: `count`.
    public static func latentScatter(means: [Float], labels: [UInt8], size: Int = 640) -> RGBImage {
        precondition(means.count == 2 * labels.count, "latentScatter: needs two coordinates per label")
        var xs: [[Double]] = Array(repeating: [], count: 10), ys = xs
        for (i, label) in labels.enumerated() {
            xs[Int(label) % 10].append(Double(means[2 * i]))
            ys[Int(label) % 10].append(Double(means[2 * i + 1]))
        }
        let series = (0..<10).map { PlotSeries(xs: xs[$0], ys: ys[$0], color: RGB.categorical[$0], style: .dots(radius: 1)) }
        let legend = (0..<10).map { (name: "class \($0)", color: RGB.categorical[$0]) }
        return LinePlot.render(panels: [PlotPanel(series: series, title: "posterior means of the test images",
                                                  xLabel: "z1", yLabel: "z2", legend: legend)],
                               panelWidth: size, panelHeight: size)
    }

    /// The tutorial's Figure 8 layout, columns = examples: row 0 the conditioning column X alone (binarized
    /// pixels on black), row 1 the ground truth Y, row 2 the regressor's prediction, then one row per CVAE
    /// sample. All arrays hold `examples × height·width` pixels except `columns` (`examples × height`).
    public static func completion(
        columns: [Float], column: Int, truth: [Float], regressor: [Float], cvaeSamples: [[Float]],
        height: Int, width: Int, scale: Int = 2
    ) -> GrayImage {
        let size = height * width, examples = truth.count / size
        precondition(columns.count == examples * height && regressor.count == truth.count
                     && cvaeSamples.allSatisfy { $0.count == truth.count }, "completion: sizes do not match")
        var inputs = [Float](repeating: 0, count: truth.count)
        for e in 0..<examples {
            for r in 0..<height { inputs[e * size + r * width + column] = columns[e * height + r] }
        }
        let rows = [inputs, truth, regressor] + cvaeSamples
        let images = rows.flatMap { $0 }
        return ImageGrid.tile(images: images, count: rows.count * examples, height: height, width: width,
                              rows: rows.count, cols: examples, border: 1, scale: scale)
    }
}
