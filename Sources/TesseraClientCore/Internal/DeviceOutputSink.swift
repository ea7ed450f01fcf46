import CTesseraPOSIX
import TesseraWire

/// Where device output from the node goes: the program's own stdout (device `printf`) and stderr (`assert`
/// messages), through its C streams so that it lands in order with what the host code printed before the
/// synchronising call, as NVIDIA's driver writes it.
enum DeviceOutputSink {
    static func deliver(_ output: DeviceOutput) {
        output.bytes.withUnsafeBytes { b in
            tessera_write_program_output(Int32(output.channel.rawValue), b.baseAddress, b.count)
        }
    }
}
