#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
        return LinePlot.render(panels: [series], panelWidth: size, panelHeight: size)
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

/// Φ⁻¹, the standard normal quantile function, for p in (0, 1).
public enum InverseNormalCDF {
    /// Acklam's rational approximation (relative error < 1.2e-9), refined by one Halley step on
    /// Φ(x) = ½ erfc(−x/√2), which brings it to Double precision.
    public static func quantile(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "quantile: p must be in (0, 1)")
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
                 -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
                 -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
                 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - low {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * log(1 - p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
                / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let e = 0.5 * erfc(-x / 2.0.squareRoot()) - p
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        x -= u / (1 + x * u / 2)
        return x
    }
}
