package android.net.wifi;

public class ScanResult {
    public String SSID;
    public String BSSID;
    public ScanResult(String ssid, String bssid) { this.SSID = ssid; this.BSSID = bssid; }
    public String toString() { return "SSID: " + SSID + ", BSSID: " + BSSID; }
}
