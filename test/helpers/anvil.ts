/** The anvil launcher lives with the ops tooling (the devnet uses it too); tests import it here. */
export { startAnvil, type Anvil, type StartAnvilOptions } from '../../contracts/deploy/anvil'
