/// When `AdaptiveExchange` tries the other exchange and what it concludes, apart from clocks and MPI so the
/// rule can be tested: feed it each step's duration; it says when to start a probe and, when one ends, the
/// median step of the exchange that was active before and of the probed one.
struct ExchangeProbeSchedule {
    enum Action: Equatable {
        case none
        /// Switch to the other exchange now; the next `probeSteps` steps are the probe.
        case startProbe
        /// The probe is over: compare (after agreeing across ranks) and keep the faster.
        case finishProbe(activeMedian: Double, probeMedian: Double)
    }

    /// Steps between probes; steps per probe, of which the first `warmUp` are not measured (the hand-over
    /// and cold caches); at least `minimumSamples` recent steps of the active exchange before a probe.
    let probeEvery: Int
    let probeSteps: Int
    let warmUp: Int
    let minimumSamples = 8
    /// The active exchange's most recent step durations (at most 16) and the probe's.
    private var recent: [Double] = []
    private var probe: [Double] = []
    private var probeStart: Int?

    init(probeEvery: Int = 400, probeSteps: Int = 6, warmUp: Int = 2) {
        precondition(probeEvery > 0 && probeSteps > warmUp && warmUp >= 0)
        self.probeEvery = probeEvery
        self.probeSteps = probeSteps
        self.warmUp = warmUp
    }

    /// Step `step` (1, 2, ...) took `seconds` (nil: unknown, e.g. the first step after a switch).
    mutating func record(step: Int, seconds: Double?) -> Action {
        if let start = probeStart {
            if step - start > warmUp, let seconds { probe.append(seconds) }
            guard step - start >= probeSteps else { return .none }
            let action = Action.finishProbe(activeMedian: Self.median(recent), probeMedian: Self.median(probe))
            probeStart = nil
            recent = []
            probe = []
            return action
        }
        if let seconds {
            recent.append(seconds)
            if recent.count > 16 { recent.removeFirst() }
        }
        guard step % probeEvery == 0 && recent.count >= minimumSamples else { return .none }
        probeStart = step
        return .startProbe
    }

    /// Keep the probed exchange only if it was at least 3% faster: ties and noise leave things as they are.
    static func keepsProbed(activeMedian: Double, probeMedian: Double) -> Bool {
        probeMedian < activeMedian * 0.97
    }

    static func median(_ values: [Double]) -> Double { values.median ?? .infinity }
}
