import Foundation
import Testing

/// Device `printf` and `assert` through the real node and client, in both build modes (Tessera's
/// libcudart.so.13, and NVIDIA's static runtime over Tessera's libcuda.so.1), with nvcc-built programs; and
/// the features NVIDIA's samples rely on: cooperative launch, stream-ordered allocation, mapped host memory.
@Suite struct DeviceOutputTests {
    static let modes = ["devout", "static/devout"]
    /// What `devout printf` prints: device lines between the host's own, where CUDA's synchronisation points put them.
    static let printfOrder = """
        host before
        device launch 1 line 0 value 0.00
        device launch 1 line 1 value 0.50
        device launch 1 line 2 value 1.00
        device launch 2 line 0 value 0.00
        device launch 2 line 1 value 0.50
        host after
        device launch 3 line 0 value 0.00
        host end

        """

    @Test(arguments: DeviceOutputTests.modes)
    func printfArrivesInOrderAtSynchronisation(program: String) throws {
        let node = try TestNode()
        let r = node.run(program, ["printf"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        // stdout is a file here (fully buffered): device lines must still land between the host's own lines.
        #expect(r.stdout == Self.printfOrder, "stdout:\n\(r.stdout)\nstderr:\n\(r.stderr)")
    }

    @Test(arguments: DeviceOutputTests.modes)
    func printfFifoSizeLimitsWhatIsKept(program: String) throws {
        let node = try TestNode()
        let r = node.run(program, ["fifo"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("fifo=4096\n"))
        let lines = r.stdout.split(separator: "\n").filter { $0.hasPrefix("device launch 7 line ") }
        // 1000 lines of about 37 bytes do not fit in 4 KiB: the first ones are kept, whole and in order.
        #expect(lines.count > 50 && lines.count < 1000, "\(lines.count) lines")
        #expect(lines.enumerated().allSatisfy { i, line in line.hasPrefix("device launch 7 line \(i) ") })
    }

    @Test(arguments: DeviceOutputTests.modes)
    func assertFailsTheLaunchStickilyWithItsMessageOnStderr(program: String) throws {
        let node = try TestNode()
        let r = node.run(program, ["assert"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        // CUDA's format: file:line: function: block: [x,y,z], thread: [x,y,z] Assertion `expr` failed.
        #expect(r.stderr.contains("block: [1,0,0], thread: [5,0,0] Assertion `values[i] > 0` failed."), "\(r.stderr)")
        #expect(r.stderr.contains("devout.cu:"), "\(r.stderr)")
        #expect(!r.stdout.contains("Assertion"), "assert messages go to stderr only")
        #expect(r.stdout.contains("sync=710 cudaErrorAssert"), "\(r.stdout)")
        // Sticky: the context stays unusable.
        #expect(r.stdout.contains("after=710 cudaErrorAssert"), "\(r.stdout)")
    }

    @Test(arguments: DeviceOutputTests.modes)
    func cooperativeLaunchSynchronisesTheGrid(program: String) throws {
        let node = try TestNode()
        let r = node.run(program, ["cooperative"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("attribute=1 prop=1"), "\(r.stdout)")
        #expect(r.stdout.contains("grid sum=36"), "\(r.stdout)")  // 1 + 2 + … + 8
        #expect(r.stdout.contains("too large=720 cudaErrorCooperativeLaunchTooLarge"), "\(r.stdout)")
        #expect(r.stdout.contains("cooperative OK"))
    }

    @Test(arguments: DeviceOutputTests.modes)
    func streamOrderedAllocationStaysWithinTheQuota(program: String) throws {
        let node = try TestNode()
        let r = node.run(program, ["pool"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("pools=1 over quota=2"), "\(r.stdout)")
        #expect(r.stdout.contains("pool OK"))
    }

    @Test(arguments: DeviceOutputTests.modes)
    func mappedHostMemoryIsZeroCopy(program: String) throws {
        let node = try TestNode()
        let r = node.run(program, ["zerocopy"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("zerocopy OK same=1"), "\(r.stdout)")
    }

    @Test(arguments: DeviceOutputTests.modes)
    func aLaunchWithNoLaterCUDACallStillRuns(program: String) throws {
        // The launch waits in the client's pipeline buffer; the flusher must send it although the program only
        // reads host memory afterwards.
        let node = try TestNode()
        let r = node.run(program, ["unfollowed"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("unfollowed launch ran"), "\(r.stdout)")
    }

    @Test(arguments: DeviceOutputTests.modes)
    func streamAttributesAreKeptAsHints(program: String) throws {
        // The static build reaches these through NVIDIA's runtime and Tessera's cuStreamSetAttribute & co.
        let node = try TestNode()
        let r = node.run(program, ["attributes"])
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("attributes OK"), "\(r.stdout)")
        #expect(!r.stderr.lowercased().contains("not supported"), "\(r.stderr)")
    }
}
