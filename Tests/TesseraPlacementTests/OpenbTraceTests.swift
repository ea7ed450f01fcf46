import Testing
import TesseraPlacement

@Suite struct OpenbTraceTests {
    @Test func nodeListsAreReadByColumnName() throws {
        let csv = "model,gpu,extra,sn,memory_mib,cpu_milli\r\n"
            + "T4,2,\"x, y\",n-1,1024,8000\r\n"
            + ",0,,cpu-only,2048,4000\r\n"
            + "\r\n"
            + "\"G2\",8,\"say \"\"hi\"\"\",\"n-2\",4096,96000\r\n"
        let nodes = try OpenbTrace.parseNodes(csv, file: "nodes.csv")
        #expect(nodes.map(\.name) == ["n-1", "n-2"])
        #expect(nodes[0].gpus.count == 2 && nodes[0].gpus[0].model == "T4" && nodes[0].gpus[0].memoryMiB == 16_384)
        #expect(nodes[1].cpuMilli == 96_000 && nodes[1].memoryMiB == 4096 && nodes[1].gpus.count == 8)
        let all = try OpenbTrace.parseNodes(csv, file: "nodes.csv", gpuNodesOnly: false)
        #expect(all.map(\.name) == ["n-1", "cpu-only", "n-2"])

        let withMemory = "sn,cpu_milli,memory_mib,gpu,model,gpu_memory_mib\nn,1000,10,1,Mystery,12345\nm,1000,10,1,Mystery,\n"
        let custom = try OpenbTrace.parseNodes(withMemory, file: "n.csv")
        #expect(custom[0].gpus[0].memoryMiB == 12_345)
        #expect(custom[1].gpus[0].memoryMiB == GPUMemoryTable.standard.fallbackMiB)
    }

    @Test func podListsMapToRequests() throws {
        // The multigpu files have the first five columns only.
        let five = "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,12000,16384,1,1000\np1,6000,12288,1,460\np2,88000,0,8,1000\np3,4000,100,0,0\n"
        let pods = try OpenbTrace.parsePods(five, file: "pods.csv")
        #expect(pods.map(\.name) == ["p0", "p1", "p2", "p3"])
        #expect(pods[0].request == (try PlacementRequest.wholeGPUs(1, cpuMilli: 12_000, hostMemoryMiB: 16_384)))
        #expect(pods[1].request.isSharedGPU && pods[1].request.computeMilliPerGPU == 460)
        #expect(pods[1].request.gpuMemory == .sameFractionAsCompute)
        #expect(pods[2].request.gpuCount == 8 && pods[2].request.wholeGPU)
        #expect(pods[3].request.gpuCount == 0)

        let full = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos\n\"p,0\",1000,1,1,500,V100M16|V100M32,LS\np1,1000,1,1,500,,BE\n"
        let withSpec = try OpenbTrace.parsePods(full, file: "pods.csv")
        #expect(withSpec[0].name == "p,0")
        #expect(withSpec[0].request.allowedModels == ["V100M16", "V100M32"])
        #expect(withSpec[1].request.allowedModels == nil)
    }

    @Test(arguments: [
        ("name,cpu_milli,memory_mib,num_gpu\np,1,1,1\n", "missing column 'gpu_milli'"),
        ("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,1,500\nq,abc,1,1,500\n", "pods.csv:3: cpu_milli 'abc'"),
        ("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,1,500\n\nq,1,1,1,0\n", "pods.csv:4: num_gpu is 1 but gpu_milli is 0"),
        ("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,1,1500\n", "pods.csv:2: gpu_milli 1500 outside 0…1000"),
        ("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,-1,1,0,0\n", "pods.csv:2: cpu_milli -1 outside"),
        ("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,0,0,9\n", "pods.csv:2: 6 fields where the header has 5"),
        ("name,cpu_milli,memory_mib,num_gpu,gpu_milli\n\"p,1,1,0,0\n", "pods.csv:2: quoted field never closed"),
        ("name,cpu_milli,memory_mib,num_gpu,gpu_milli\n,1,1,0,0\n", "pods.csv:2: empty name"),
        ("", "pods.csv: empty file"),
    ])
    func badPodListsNameFileAndLine(_ csv: String, _ message: String) {
        do {
            _ = try OpenbTrace.parsePods(csv, file: "pods.csv")
            Issue.record("expected an error for \(message)")
        } catch {
            #expect(error.code == .invalidTrace)
            #expect(error.message.contains(message), "\(error.message)")
        }
    }

    @Test func badNodeListsNameFileAndLine() {
        let cases = [
            ("sn,cpu_milli,memory_mib,gpu,model\nn,1,1,2,\n", "nodes.csv:2: node 'n' has 2 GPUs but no model"),
            ("sn,cpu_milli,memory_mib,gpu,model\nn,1,1,1,T4\nn,1,1,1,T4\n", "nodes.csv:3: duplicate node name 'n'"),
            ("sn,cpu_milli,memory_mib,gpu,model\nn,1,1,x,T4\n", "nodes.csv:2: gpu 'x' is not a whole number"),
            ("sn,cpu_milli,memory_mib,gpu\nn,1,1,1\n", "missing column 'model'"),
        ]
        for (csv, message) in cases {
            #expect(throws: PlacementEngineError.self) { try OpenbTrace.parseNodes(csv, file: "nodes.csv") }
            do {
                _ = try OpenbTrace.parseNodes(csv, file: "nodes.csv")
            } catch {
                #expect(error.message.contains(message), "\(error.message)")
            }
        }
    }

    @Test func missingFilesSayWhich() {
        do {
            _ = try OpenbTrace(nodesFile: "/nonexistent/nodes.csv", podsFile: "/nonexistent/pods.csv")
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .io && error.message.contains("/nonexistent/nodes.csv"))
        }
    }
}
