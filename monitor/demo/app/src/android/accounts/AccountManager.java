package android.accounts;

public class AccountManager {
    public Account[] getAccounts() { return new Account[] { new Account("zhang.san@example.com", "com.google") }; }
}
