/// An error that every rank raises at the same point with the same message (e.g. after comparing
/// configuration hashes). The executable prints it once, from rank 0, and every rank exits normally with a
/// non-zero status: no `MPI_Abort` is needed because no rank is left waiting in a collective
/// (`MPICommunicator.runOnWorld` hands it over as `WorldOutcome.agreedFailure`).
public struct AgreedFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
