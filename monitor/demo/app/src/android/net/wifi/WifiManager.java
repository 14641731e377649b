package android.net.wifi;

import java.util.ArrayList;
import java.util.List;

public class WifiManager {
    public WifiInfo getConnectionInfo() { return new WifiInfo(); }
    public List<ScanResult> getScanResults() {
        List<ScanResult> out = new ArrayList<>();
        out.add(new ScanResult("CMCC-5G", "d8:32:14:aa:bb:01"));
        out.add(new ScanResult("ChinaNet-Home", "d8:32:14:aa:bb:02"));
        return out;
    }
}
