import Distributed
import Foundation
import Model
import Testing

/// `TrainingConfig.conditionTower` (`--condition-tower`): parsed into the spec, part of the trajectory only
/// when set (existing hashes and checkpoint headers unchanged), refused for the unconditioned VAE.
@Suite struct ConditionTowerConfigTests {
    @Test func parsesWidthsAndRefusesBadText() {
        #expect(TrainingConfig.parseConditionTower("1000-500-250") == [1000, 500, 250])
        #expect(TrainingConfig.parseConditionTower("64") == [64])
        for bad in ["", "-", "1000-", "-250", "0-5", "5--4", "a-b", "12x", "-3", String(TrainingConfig.maxTowerWidth + 1)] {
            #expect(TrainingConfig.parseConditionTower(bad) == nil, "\(bad)")
        }
    }

    @Test func specCarriesTheTowerForConditionedModelsOnly() throws {
        var config = TrainingConfig()
        config.architecture = "deep"
        config.conditionTower = "1000-500-250"
        for model in [ModelChoice.cvae, .cvaeLabel, .regressor] {
            config.model = model
            #expect(try config.networkSpec().conditionTower == [1000, 500, 250])
        }
        config.model = .vae
        #expect(throws: TrainingError.self) { try config.networkSpec() }
        config.model = .cvae
        config.conditionTower = "1000-x"
        #expect(throws: TrainingError.self) { try config.networkSpec() }
        config.conditionTower = "1048576-1048576"   // ~2^40 weights in the tower alone
        #expect(throws: TrainingError.self) { try config.networkSpec() }
        config.conditionTower = nil
        #expect(try config.networkSpec().conditionTower == [])
    }

    @Test func trajectoryMentionsTheTowerOnlyWhenSet() throws {
        var config = TrainingConfig()
        config.model = .cvae
        let without = config.trajectoryDescription
        #expect(without == "model=cvae arch=classic latent=default output=bernoulli batch=128 "
            + "lr=\((1e-3).bitPattern) wd=\((0.0).bitPattern) seed=1 partial=false")
        config.conditionTower = "1000-500-250"
        #expect(config.trajectoryDescription == without + " tower=1000-500-250")
        var towerless = config
        towerless.conditionTower = nil
        #expect(config.trajectoryHash(dataFingerprint: 9) != towerless.trajectoryHash(dataFingerprint: 9))
        config.conditionTower = "1000-500-251"
        #expect(config.trajectoryDescription == without + " tower=1000-500-251")
    }

    @Test func checkpointHeaderJSONIsUnchangedWithoutATower() throws {
        var config = TrainingConfig()
        config.model = .regressor
        let json = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
        #expect(!json.contains("conditionTower"))
        #expect(try JSONDecoder().decode(TrainingConfig.self, from: Data(json.utf8)) == config)
        config.conditionTower = "8-4"
        let withTower = try JSONEncoder().encode(config)
        #expect(try JSONDecoder().decode(TrainingConfig.self, from: withTower).conditionTower == "8-4")
    }
}
