import Testing
import TesseraPlacement

@Suite struct PlacementRequestTests {
    @Test func sharesAndWholeGPUsNormalise() throws {
        let share = try PlacementRequest.sharedGPU(computePercent: 25, memoryMiB: 4096, cpuMilli: 2000)
        #expect(share.computeMilliPerGPU == 250 && share.gpuCount == 1 && !share.wholeGPU && share.isSharedGPU)
        #expect(share.gpuMemory == .mebibytes(4096) && share.totalGPUMilli == 250)

        let fullShare = try PlacementRequest(gpuCount: 2, computeMilliPerGPU: 1000)
        #expect(fullShare.wholeGPU && fullShare.totalGPUMilli == 2000)

        let cpu = try PlacementRequest.cpuOnly(cpuMilli: 500, hostMemoryMiB: 10)
        #expect(cpu.gpuCount == 0 && cpu.computeMilliPerGPU == 0 && cpu.totalGPUMilli == 0)
        #expect(try PlacementRequest(cpuMilli: 500, hostMemoryMiB: 10, computeMilliPerGPU: 300) == cpu)
    }

    @Test func badNumbersAreRejected() {
        #expect(throws: PlacementEngineError.self) { try PlacementRequest(cpuMilli: -1) }
        #expect(throws: PlacementEngineError.self) { try PlacementRequest(hostMemoryMiB: -1) }
        #expect(throws: PlacementEngineError.self) { try PlacementRequest(gpuCount: -1) }
        #expect(throws: PlacementEngineError.self) { try PlacementRequest(gpuCount: 1, computeMilliPerGPU: 0) }
        #expect(throws: PlacementEngineError.self) { try PlacementRequest(gpuCount: 1, computeMilliPerGPU: 1001) }
        #expect(throws: PlacementEngineError.self) { try PlacementRequest.sharedGPU(computePercent: -1, memoryMiB: 1) }
        // 0 % with a fixed memory size is best effort: memory only.
        #expect((try? PlacementRequest.sharedGPU(computePercent: 0, memoryMiB: 64))?.computeMilliPerGPU == 0)
        #expect(throws: PlacementEngineError.self) { try PlacementRequest.sharedGPU(computePercent: 50, memoryMiB: -5) }
        #expect(throws: PlacementEngineError.self) { try PlacementRequest.wholeGPUs(0) }
        do {
            _ = try PlacementRequest(gpuCount: 1, computeMilliPerGPU: 2000)
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .invalidRequest)
            #expect(error.message.contains("2000"))
        }
    }

    @Test func policyNamesParse() throws {
        #expect(try ScoringPolicy(name: "FGD") == .fgd)
        #expect(try ScoringPolicy(name: "best-fit") == .bestFit)
        #expect(try ScoringPolicy(name: "dot_product") == .dotProduct)
        #expect(try ScoringPolicy(name: "default") == .tessera)
        for policy in ScoringPolicy.allCases { #expect(try ScoringPolicy(name: policy.rawValue) == policy) }
        #expect(throws: PlacementEngineError.self) { try ScoringPolicy(name: "worst-fit") }
    }

    @Test func seedRangesParse() throws {
        #expect(try ReplayConfiguration.parseSeeds("42-51") == Array(42...51))
        #expect(try ReplayConfiguration.parseSeeds("7") == [7])
        #expect(try ReplayConfiguration.parseSeeds("1,5,9-11") == [1, 5, 9, 10, 11])
        #expect(throws: PlacementEngineError.self) { try ReplayConfiguration.parseSeeds("51-42") }
        #expect(throws: PlacementEngineError.self) { try ReplayConfiguration.parseSeeds("x") }
    }
}
