#if canImport(Glibc)
import Glibc
#endif
import TesseraDevice
import TesseraWire

extension Session {
    /// Whether a request is one of CUDA's synchronisation points for device output: synchronising a stream,
    /// an event or the device, a blocking copy or memset, loading a module, resetting the device. The output
    /// of finished kernels travels just before its reply, so the program sees it before that call returns.
    static func flushesDeviceOutput(_ opcode: Opcode) -> Bool {
        switch opcode {
        case .synchronizeStream, .synchronizeEvent, .synchronizeDevice, .copyToDevice, .copyFromDevice, .copyOnDevice,
             .copy2D, .memset, .memset2D, .loadModule, .resetDevice:
            true
        default:
            false
        }
    }

    /// Queues the device output every vGPU of the session collected, in device order, ahead of the reply.
    func forwardDeviceOutput() {
        for v in vgpus { forwardDeviceOutput(of: v.context) }
    }

    /// Queues one context's device output (printf first: CUDA prints it before reporting the assert).
    func forwardDeviceOutput(of context: any DeviceContext) {
        let output = context.takeDeviceOutput()
        guard !output.isEmpty else { return }
        send(output.printf, on: .standardOutput)
        send(output.assertMessages, on: .standardError)
    }

    /// Shows a line about the session's wait in the queue on the program's stderr (its runtime prints device
    /// output frames while it waits for the hello's reply); false once the program has gone away. Runs on the
    /// session's thread, which is blocked in the admission.
    func tellWaiting(_ line: String) -> Bool {
        if !line.isEmpty {
            send(Array("tessera: \(line)\n".utf8), on: .standardError)
            do throws(WireError) { try flush() } catch { return false }
        }
        var byte: UInt8 = 0
        let n = recv(socket, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        return !(n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
    }

    private func send(_ bytes: [UInt8], on channel: DeviceOutput.Channel) {
        var start = 0
        while start < bytes.count {
            let end = min(bytes.count, start + DeviceOutput.maxChunk)
            let chunk = DeviceOutput(channel: channel, bytes: Array(bytes[start..<end]))
            out.frame(.deviceOutput, requestID: 0) { chunk.encode(into: &$0) }
            start = end
        }
    }
}
