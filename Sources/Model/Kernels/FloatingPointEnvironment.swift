import CVectorMath

/// The floating-point mode training runs in.
public enum FloatingPointEnvironment {
    /// Treats subnormal floats (below 1.2e-38) as zero on this thread, in and out.
    ///
    /// As training goes on, some of Adam's second moments and some gradients become subnormal, and every
    /// operation on a subnormal takes a slow microcode path, and epochs grow slower as training goes on.
    /// Values that small contribute nothing to the model. Every rank runs in the same mode, so runs stay reproducible bit for bit.
    public static func flushSubnormalsToZero() {
        vd_flush_denormals_to_zero()
    }
}
