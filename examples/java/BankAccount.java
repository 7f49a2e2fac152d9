import java.util.ArrayList;
import java.util.List;

/** Bank accounts with overdraft rules: classes, exceptions, switch fall-through, loops. */
public class BankAccount {
    static class InsufficientFunds extends Exception {
        InsufficientFunds(String message) {
            super(message);
        }
    }

    enum Tier { BASIC, SILVER, GOLD }

    private final String owner;
    private final Tier tier;
    private long balance;
    private final List<String> history = new ArrayList<>();

    public BankAccount(String owner, Tier tier, long opening) {
        this.owner = owner;
        this.tier = tier;
        this.balance = opening;
    }

    long overdraftLimit() {
        long limit = 0;
        switch (tier) {
            case GOLD:
                limit += 500;
                // fall through
            case SILVER:
                limit += 100;
                break;
            default:
                limit = 0;
        }
        return limit;
    }

    void withdraw(long amount) throws InsufficientFunds {
        if (amount <= 0) {
            throw new IllegalArgumentException("amount must be positive");
        } else if (balance - amount < -overdraftLimit()) {
            throw new InsufficientFunds(owner + " cannot withdraw " + amount);
        }
        balance -= amount;
        history.add("withdraw " + amount);
    }

    int applyAll(long[] amounts) {
        int applied = 0;
        for (long amount : amounts) {
            if (amount == 0) {
                continue;
            }
            try {
                withdraw(amount);
                applied++;
            } catch (InsufficientFunds e) {
                history.add("refused: " + e.getMessage());
                break;
            } finally {
                history.add("balance " + balance);
            }
        }
        return applied;
    }

    public static void main(String[] args) {
        BankAccount account = new BankAccount("ada", Tier.SILVER, 50);
        int applied = account.applyAll(new long[] {20, 0, 100, 500});
        account.history.forEach(line -> System.out.println(line));
        System.out.println(applied + " applied, limit " + account.overdraftLimit());
    }
}
