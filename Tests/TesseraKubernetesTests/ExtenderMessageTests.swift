import Foundation
import Testing
import TesseraKubernetes
import TesseraTestSupport

@Suite struct ExtenderMessageTests {
    @Test func decodesKubeSchedulerArgumentsAndIgnoresUnknownFields() throws {
        let pod = Fixtures.pod("alice", uid: Fixtures.uid(1))
        let args = try JSONDecoder().decode(ExtenderArgs.self, from: Data(Fixtures.argsWithNames(pod, ["n1", "n2"]).utf8))
        #expect(args.pod.metadata.uid == Fixtures.uid(1))
        #expect(args.nodeNames == ["n1", "n2"])
        #expect(args.nodes == .null || args.nodes == nil)
        let full = try JSONDecoder().decode(ExtenderArgs.self, from: Data(Fixtures.argsWithNodes(pod, ["a", "b"]).utf8))
        #expect(full.nodeNames == nil)
        #expect(full.candidateNames == ["a", "b"])
    }

    /// The server's scanner (hand-written for speed) reads exactly what `JSONDecoder` reads, in every shape.
    @Test func theFastDecoderAgreesWithJSONDecoder() throws {
        let pod = Fixtures.pod("alice", uid: Fixtures.uid(1), annotations: ["tessera.dev/gpu-model": "A100"])
        let podJSON = Fixtures.podJSON(pod)
        let bodies = [
            Fixtures.argsWithNames(pod, ["n1", "n2", "gpu-node-1213"]),
            Fixtures.argsWithNodes(pod, ["a", "b"]),
            #"{"pod":\#(podJSON),"nodenames":["x"]}"#,
            #"{"NODENAMES":[],"POD":\#(podJSON),"Nodes":null,"Extra":{"k":[1,2.5e3,true,null,{"z":"\"]}"}]}}"#,
            " {\n\t\"Pod\" : \(podJSON) ,\r\n \"NodeNames\" : [ \"a\" , \"b\" ] } \n",
            #"{"Pod":\#(podJSON),"NodeNames":["caf\u00e9","n\"2"]}"#,
            #"{"P\u006fd":\#(podJSON),"NodeNames":["n"]}"#,
            #"{"Pod":\#(podJSON),"NodeNames":null,"Nodes":null}"#,
            #"{"Pod":\#(podJSON),"NodeNames":["ünï-ｃｏｄｅ"],"Empty":{},"EmptyList":[]}"#,
        ]
        for body in bodies {
            let expected = try JSONDecoder().decode(ExtenderArgs.self, from: Data(body.utf8))
            let fast = try ExtenderArgs(json: Array(body.utf8))
            #expect(fast.pod == expected.pod, "\(body.prefix(60))")
            #expect(fast.nodeNames == expected.nodeNames, "\(body.prefix(60))")
            #expect(fast.candidateNames == expected.candidateNames, "\(body.prefix(60))")
            // The same body again (prioritize after filter) reuses the decoded pod: still the same value.
            #expect(try ExtenderArgs(json: Array(body.utf8)) == fast)
        }
        // A pod differing in one byte is decoded afresh.
        var other = pod
        other.metadata.uid = Fixtures.uid(2)
        let otherBody = Fixtures.argsWithNames(other, ["n1"])
        #expect(try ExtenderArgs(json: Array(otherBody.utf8)).pod.metadata.uid == Fixtures.uid(2))
        #expect(try ExtenderArgs(json: Array(bodies[5].utf8)).nodeNames == ["café", "n\"2"])
    }

    @Test func theFastDecoderRefusesWhatIsNotARequest() {
        let pod = Fixtures.podJSON(Fixtures.pod("alice", uid: Fixtures.uid(1)))
        for body in [
            "", "[]", #"{"Pod":"#, #"{"Pod":{"metadata":"#, #"{"NodeNames":["a"]}"#, #"{"Pod":null,"NodeNames":["a"]}"#,
            #"{"Pod":\#(pod),"NodeNames":["a",]}"#, #"{"Pod":\#(pod),"NodeNames":["a"]} trailing"#,
            #"{"Pod":\#(pod),"NodeNames":["a"}"#, #"{"Pod":\#(pod) "NodeNames":["a"]}"#, #"{"Pod":{"metadata":{"name":1}}}"#,
        ] {
            #expect(throws: KubernetesError.self, "\(body)") { try ExtenderArgs(json: Array(body.utf8)) }
        }
    }

    @Test func decodesKeysCaseInsensitivelyLikeGo() throws {
        let binding = try JSONDecoder().decode(
            ExtenderBindingArgs.self, from: Data(#"{"podname":"p","PODNAMESPACE":"ns","podUID":"u","node":"n"}"#.utf8))
        #expect(binding == ExtenderBindingArgs(podName: "p", podNamespace: "ns", podUID: "u", node: "n"))
        let result = try JSONDecoder().decode(ExtenderFilterResult.self, from: Data(#"{"nodenames":["x"],"failedNodes":{"y":"full"},"error":""}"#.utf8))
        #expect(result.nodeNames == ["x"])
        #expect(result.failedNodes == ["y": "full"])
    }

    @Test func emitsPascalCase() throws {
        let filter = String(decoding: try JSONEncoder().encode(ExtenderFilterResult(nodeNames: ["n1"], failedNodes: ["n2": "full"])), as: UTF8.self)
        for key in ["\"Nodes\"", "\"NodeNames\"", "\"FailedNodes\"", "\"FailedAndUnresolvableNodes\"", "\"Error\""] {
            #expect(filter.contains(key))
        }
        let priority = String(decoding: try JSONEncoder().encode([HostPriority(host: "n1", score: 7)]), as: UTF8.self)
        #expect(priority.contains("\"Host\":\"n1\"") && priority.contains("\"Score\":7"))
        let bind = String(decoding: try JSONEncoder().encode(ExtenderBindingResult(error: "")), as: UTF8.self)
        #expect(bind == #"{"Error":""}"#)
    }

    @Test func bindingArgumentsWithoutUIDAreRejected() {
        #expect(throws: (any Error).self) {
            try JSONDecoder().decode(ExtenderBindingArgs.self, from: Data(#"{"PodName":"p","Node":"n"}"#.utf8))
        }
    }

    @Test func readsTheVGPURequestOfEveryContainer() throws {
        var pod = Fixtures.pod("p", uid: Fixtures.uid(2), vgpus: 2, memory: 2048, compute: 30)
        pod.spec.containers.append(.init(name: "sidecar", resources: .init(limits: ["tessera.dev/vgpu": "1"])))
        pod.spec.containers.append(.init(name: "cpu-only", resources: .init(limits: ["cpu": "1"])))
        let request = try #require(try VGPURequest(pod: pod))
        #expect(request.vgpuCount == 3)
        #expect(request.memoryMiBPerVGPU == 2048)
        #expect(request.computePercentPerVGPU == 30)
        #expect(request.containers.map(\.name) == ["notebook", "sidecar"])
        #expect(request.containers[1].memoryMiB == 1024)  // the default
        let placement = try request.placementRequest()
        #expect(placement.gpuCount == 3 && placement.computeMilliPerGPU == 300)
    }

    @Test func annotationsChooseModelsAndLayout() throws {
        let pod = Fixtures.pod(
            "p", uid: Fixtures.uid(3), vgpus: 2, memory: 1000, compute: 20,
            annotations: ["tessera.dev/gpu-model": "A100, H100", "tessera.dev/vgpu-placement": "pack"])
        let request = try #require(try VGPURequest(pod: pod))
        #expect(request.allowedModels == ["A100", "H100"])
        #expect(request.layout == .pack)
        let placement = try request.placementRequest()
        #expect(placement.gpuCount == 1 && placement.computeMilliPerGPU == 400)
        #expect(placement.allowedModels == ["A100", "H100"])
    }

    @Test func malformedQuantitiesAreClearErrors() {
        let pod = Fixtures.pod("p", uid: Fixtures.uid(4), memory: nil, compute: 150)
        #expect(throws: KubernetesError.self) { try VGPURequest(pod: pod) }
        var bad = Fixtures.pod("q", uid: Fixtures.uid(5))
        bad.spec.containers[0].resources?.limits?["tessera.dev/vgpu-memory"] = "4Gi"
        do {
            _ = try VGPURequest(pod: bad)
            Issue.record("4Gi accepted as MiB")
        } catch {
            #expect(error.code == .invalidRequest)
            #expect(error.message.contains("tessera.dev/vgpu-memory"))
        }
        let layout = Fixtures.pod("r", uid: Fixtures.uid(6), annotations: ["tessera.dev/vgpu-placement": "diagonal"])
        #expect(throws: KubernetesError.self) { try VGPURequest(pod: layout) }
    }

    @Test func podsWithoutVGPUsAskForNothing() throws {
        let pod = Pod(metadata: .init(name: "web"), spec: .init(containers: [.init(name: "c", resources: .init(limits: ["cpu": "1"]))]))
        #expect(try VGPURequest(pod: pod) == nil)
    }
}

@Suite struct PodCgroupTests {
    @Test func findsThePodUIDUnderEveryDriverAndVersion() {
        let uid = "0b5e8c84-42ad-4a53-9c4f-2b1e7f6d9a10"
        let underscored = uid.replacingOccurrences(of: "-", with: "_")
        let files = [
            "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(underscored).slice/cri-containerd-4f1e.scope\n",
            "0::/kubepods.slice/kubepods-pod\(underscored).slice/cri-containerd-4f1e.scope\n",
            "12:pids:/kubepods/besteffort/pod\(uid)/8d0c2f\n11:memory:/kubepods/besteffort/pod\(uid)/8d0c2f\n",
            "0::/kubepods/pod\(uid)/8d0c2f\n",
        ]
        for file in files { #expect(PodCgroup.podUID(inCgroupFile: file) == uid, "\(file)") }
    }

    @Test func processesOutsidePodsHaveNoUID() {
        #expect(PodCgroup.podUID(inCgroupFile: "0::/user.slice/user-1000.slice/session-3.scope\n") == nil)
        #expect(PodCgroup.podUID(inCgroupFile: "0::/kubepods.slice/kubepods-burstable.slice\n") == nil)
        #expect(PodCgroup.podUID(inCgroupFile: "0::/podcast/x\n") == nil)
        #expect(PodCgroup.podUID(inCgroupFile: "garbage") == nil)
    }
}

@Suite struct HandWrittenJSONTests {
    @Test func prioritiesDecodeAsFoundationsOwn() throws {
        let priorities = [HostPriority(host: "n1", score: 7), HostPriority(host: "odd\"name\\\n\u{1}", score: 0)]
        let decoded = try JSONDecoder().decode([HostPriority].self, from: Data(HostPriority.json(priorities)))
        #expect(decoded == priorities)
        #expect(try JSONDecoder().decode([HostPriority].self, from: Data(HostPriority.json([]))).isEmpty)
    }

    @Test func filterResultsDecodeAsFoundationsOwn() throws {
        let names = ExtenderFilterResult(
            nodeNames: ["a", "b\"c"], failedNodes: ["x": "full: [1 MiB/2 %]", "y": "tab\there"],
            failedAndUnresolvableNodes: ["z": "no GPUs"], error: "")
        #expect(try JSONDecoder().decode(ExtenderFilterResult.self, from: Data(try names.json())) == names)
        let objects = ExtenderFilterResult(nodes: .object(["items": .array([])]))
        #expect(try JSONDecoder().decode(ExtenderFilterResult.self, from: Data(try objects.json())) == objects)
    }
}
