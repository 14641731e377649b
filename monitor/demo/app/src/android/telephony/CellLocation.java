package android.telephony;

public abstract class CellLocation {
}
