#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The latent layer of the VAE: reparameterization (eq. 10) and the Gaussian KL (eq. 7).
///
/// The encoder's last layer is ONE linear layer of width 2·L whose output row is `[μ (L) | log σ² (L)]`
/// (the "head"); these kernels read that row layout and write gradients in the same layout. The latent
/// arrays are small (B × L, L ≈ 20–30), so plain scalar loops with libm are the right tool.
public enum ElementwiseLatent {
    /// z = μ + exp(½ log σ²) ⊙ ε  (eq. 10 with Σ = diag σ²), for `rows` examples.
    public static func reparameterizeForward(
        head: UnsafePointer<Float>, epsilon: UnsafePointer<Float>, z: UnsafeMutablePointer<Float>,
        rows: Int, latent: Int
    ) {
        for r in 0..<rows {
            let mu = head + r * 2 * latent, logVariance = mu + latent
            let e = epsilon + r * latent, out = z + r * latent
            for j in 0..<latent { out[j] = mu[j] + expf(0.5 * logVariance[j]) * e[j] }
        }
    }

    /// Backward of the reparameterization, ADDING into `headGradient`:
    /// ∂/∂μ += dz,  ∂/∂log σ² += dz · ε · ½ exp(½ log σ²).
    public static func reparameterizeBackward(
        head: UnsafePointer<Float>, epsilon: UnsafePointer<Float>, zGradient: UnsafePointer<Float>,
        headGradient: UnsafeMutablePointer<Float>, rows: Int, latent: Int
    ) {
        for r in 0..<rows {
            let logVariance = head + r * 2 * latent + latent
            let dMu = headGradient + r * 2 * latent, dLogVariance = dMu + latent
            let e = epsilon + r * latent, dz = zGradient + r * latent
            for j in 0..<latent {
                dMu[j] += dz[j]
                dLogVariance[j] += dz[j] * e[j] * 0.5 * expf(0.5 * logVariance[j])
            }
        }
    }

    /// KL[N(μ, diag σ²) ‖ N(0, I)] = ½ Σ (σ² + μ² − 1 − log σ²) per example (eq. 7 with k = L), summed over
    /// the rows and returned; OVERWRITES `headGradient` with `gradientScale` times its gradient:
    /// ∂/∂μ = μ,  ∂/∂log σ² = ½ (σ² − 1). Run it before `reparameterizeBackward`, which adds.
    public static func gaussianKL(
        head: UnsafePointer<Float>, headGradient: UnsafeMutablePointer<Float>, rows: Int, latent: Int,
        gradientScale: Float
    ) -> Double {
        var total = 0.0
        for r in 0..<rows {
            let mu = head + r * 2 * latent, logVariance = mu + latent
            let dMu = headGradient + r * 2 * latent, dLogVariance = dMu + latent
            for j in 0..<latent {
                let variance = exp(Double(logVariance[j]))
                let m = Double(mu[j])
                // expm1 keeps σ² − 1 − log σ² accurate when log σ² ≈ 0 (the term is second order there).
                total += 0.5 * (expm1(Double(logVariance[j])) - Double(logVariance[j]) + m * m)
                dMu[j] = gradientScale * mu[j]
                dLogVariance[j] = gradientScale * Float(0.5 * (variance - 1))
            }
        }
        return total
    }

    /// KL value only (evaluation), same formula.
    public static func gaussianKL(head: UnsafePointer<Float>, rows: Int, latent: Int) -> Double {
        var total = 0.0
        for r in 0..<rows {
            let mu = head + r * 2 * latent, logVariance = mu + latent
            for j in 0..<latent {
                let m = Double(mu[j])
                total += 0.5 * (expm1(Double(logVariance[j])) - Double(logVariance[j]) + m * m)
            }
        }
        return total
    }
}
