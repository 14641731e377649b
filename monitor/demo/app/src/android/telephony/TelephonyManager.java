package android.telephony;

/** Stub with Android's real TelephonyManager signatures; values are those of a test phone. */
public class TelephonyManager {
    public String getDeviceId() { return "867530912345675"; }
    public String getDeviceId(int slotIndex) { return slotIndex == 0 ? "867530912345675" : "867530912345683"; }
    public String getImei() { return "867530912345675"; }
    public String getImei(int slotIndex) { return slotIndex == 0 ? "867530912345675" : "867530912345683"; }
    public String getSubscriberId() { return "460011234567890"; }
    public String getSimSerialNumber() { return "89860112345678901234"; }
    public String getLine1Number() { return "+8613812345678"; }
    public String getSimOperator() { return "46001"; }
    public String getNetworkOperator() { return "46001"; }
    public CellLocation getCellLocation() { return new android.telephony.gsm.GsmCellLocation(20513, 9876543); }
}
