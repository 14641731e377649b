package android.net.wifi;

public class WifiInfo {
    public String getMacAddress() { return "02:00:00:00:00:00"; }
    public String getSSID() { return "\"Office-WiFi\""; }
    public String getBSSID() { return "ac:bc:32:9f:21:07"; }
}
