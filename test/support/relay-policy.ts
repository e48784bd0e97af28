/** The relay node's rule: node1 may have central relay commands and copies to node2. */
export const RELAY_RULE = `
[[rule]]
name = "node1 may relay to node2"
from = ["node1"]
methods = ["REQRelay"]
relayTo = ["node2"]
action = "allow"
`;

/** The target's rule: node1 may run these through central only (not directly). */
export const RELAYED_RULE = `
[[rule]]
name = "node1 through central"
from = ["node1"]
via = ["central"]
methods = ["REQCliCommand", "REQCliCommandCont", "REQCopyFileFrom"]
action = "allow"
`;
