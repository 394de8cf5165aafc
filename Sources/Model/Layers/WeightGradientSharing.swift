/// Computes a weight gradient `dW = xᵀ · dy` (`gemmTN` in `leaves`' order) with the help of other ranks
/// that have finished their own backward pass, when there are any.
///
/// Under the node-shared-memory exchange, a rank slower than the others (another process on its core, a
/// slower core) keeps them waiting while it finishes its backward, whose largest GEMMs are the weight
/// gradients — the first layer's is the last of all. A conformer lets the waiting ranks take blocks of a
/// gradient's rows (`gemmTN`'s `nextRowBlock`), while this rank takes blocks from the other end. Every
/// block is computed as it would be here, so the gradient has the same bits whoever computes it.
///
/// `rowsDone` hears the rows of `dW`, each once, the last band first (`GradientsReady`'s contract),
/// including the bands other ranks computed, once they are written. When the call returns, all of `dW` is.
public protocol WeightGradientSharing: AnyObject {
    func weightGradient(
        _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, into dW: UnsafeMutablePointer<Float>,
        m: Int, n: Int, leaves: BatchLeaves, rowsDone: (Range<Int>) -> Void
    )
}
