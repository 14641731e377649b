package android.bluetooth;

public final class BluetoothAdapter {
    private static final BluetoothAdapter DEFAULT = new BluetoothAdapter();
    public static BluetoothAdapter getDefaultAdapter() { return DEFAULT; }
    public String getAddress() { return "3c:28:6d:11:22:33"; }
    public String getName() { return "Pixel 7"; }
}
