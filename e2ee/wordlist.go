package e2ee

// wordList is the 256-word list of safety words, one word per byte value. It
// was written for this project, so no third-party licence applies. The words
// are short, common, concrete English nouns with no medical or alarming
// meaning, and no two share their first three letters. Pairs that sound alike
// over a call (paper and pepper, willow and pillow) are not both present.
var wordList = [256]string{
	"acorn", "album", "amber", "anchor", "apple", "apron", "arrow", "atlas",
	"attic", "autumn", "bacon", "badge", "bagel", "bamboo", "banjo", "barrel",
	"basket", "beach", "bicycle", "blanket", "blossom", "bottle", "bridge", "broom",
	"bucket", "buffalo", "butter", "cabin", "cactus", "camel", "candle", "captain",
	"carpet", "castle", "cedar", "cherry", "circus", "coconut", "coffee", "comet",
	"cotton", "coyote", "crayon", "crown", "cupcake", "curtain", "daisy", "dance",
	"dinner", "dolphin", "domino", "donkey", "dragon", "drum", "duck", "dune",
	"eagle", "eclipse", "elbow", "elephant", "ember", "engine", "equator", "eraser",
	"fabric", "falcon", "farmer", "feather", "finch", "flute", "forest", "fossil",
	"fountain", "fox", "frog", "galaxy", "garden", "gazelle", "ginger", "giraffe",
	"glacier", "globe", "grape", "guitar", "hammer", "harbor", "helmet", "heron",
	"hippo", "hockey", "honey", "horizon", "hotel", "iceberg", "igloo", "island",
	"ivory", "jacket", "jaguar", "jasmine", "jelly", "journal", "jungle", "kayak",
	"kettle", "kitten", "kiwi", "koala", "ladder", "lagoon", "lantern", "lemon",
	"leopard", "library", "lilac", "lizard", "lobster", "lotus", "magnet", "mango",
	"maple", "marble", "meadow", "melon", "mermaid", "meteor", "mirror", "monkey",
	"moose", "muffin", "museum", "napkin", "narwhal", "nectar", "noodle", "notebook",
	"nutmeg", "oasis", "oatmeal", "ocean", "octopus", "olive", "onion", "orange",
	"orchid", "otter", "owl", "oyster", "paddle", "pagoda", "palace", "panda",
	"paper", "parrot", "pasta", "peach", "pelican", "pencil", "piano", "picnic",
	"pigeon", "planet", "plum", "popcorn", "potato", "pumpkin", "puppet", "puzzle",
	"quail", "quilt", "rabbit", "raccoon", "radio", "rainbow", "raven", "recipe",
	"ribbon", "river", "robot", "rocket", "rooster", "rowboat", "runway", "saddle",
	"saffron", "sailor", "salmon", "sapphire", "scarf", "scooter", "seahorse", "shell",
	"silver", "skate", "sled", "snail", "soccer", "sofa", "spider", "sponge",
	"squirrel", "statue", "sugar", "summer", "sunset", "swan", "table", "taco",
	"tailor", "teapot", "temple", "tennis", "thunder", "ticket", "tiger", "timber",
	"toast", "tomato", "topaz", "tortoise", "toucan", "tractor", "trumpet", "tulip",
	"tunnel", "turtle", "tuxedo", "ukulele", "umbrella", "unicorn", "valley", "vanilla",
	"velvet", "violin", "volcano", "voyage", "waffle", "wagon", "walnut", "water",
	"weasel", "whale", "wheat", "whistle", "willow", "window", "wizard", "wombat",
	"wool", "wren", "yacht", "yarn", "yogurt", "yolk", "zebra", "zipper",
}
