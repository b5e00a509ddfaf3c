"""The RP2040's pilot sampler in machine code: what MachinePort._tick does
(boards/common/mport.py, the same state words), compiled for the Cortex-M0+.
In Python that handler took about 150 us a call on the chip, a third of the
CPU at 2,200 calls a second; here a few microseconds, most of them the ADC's
own 2 us conversion. It reads the ADC and feeds the contactor interlock through
their registers, so it runs on an RP2040 only: board.py takes it there
(sys.platform "rp2") and keeps the Python handler elsewhere (the driver tests).
"""
import micropython
from micropython import const

_ADC = const(0x4004C000)       # CS (start, ready, input select), RESULT
_PIO0_TXF0 = const(0x50200010)  # the interlock's command FIFO (state machine 0)

state = None                    # the port's state words (mport), set by the board


@micropython.viper
def tick(t):
    s = ptr32(state)
    adc = ptr32(_ADC)
    adc[0] = (adc[0] & int(0xFFFF8FF3)) | (s[14] << 12) | 4     # this input, start
    while (adc[0] & 0x100) == 0:                                # ready
        pass
    r = adc[1] & 0xFFF
    v = (r << 4) | (r >> 8)             # as machine.ADC.read_u16() scales it
    s[7] += 1
    if v < s[12]:
        if v < s[4]:
            s[4] = v
        s[6] += 1
        return
    if v > s[3]:
        s[3] = v
    s[5] += 1
    if s[0] == 0:
        return
    if (s[8] <= v and v <= s[9]) or (s[1] != 0 and s[10] <= v and v <= s[11]):
        s[2] = 0
        return
    s[2] += 1
    if s[2] >= 2:
        s[0] = 0
        ptr32(_PIO0_TXF0)[0] = 0        # open, from the interlock's next turn
        s[13] = 2
